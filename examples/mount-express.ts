/**
 * The executor inside an Express app, on the app's own port: `npx tsx examples/mount-express.ts`.
 *
 * The admin reaches the executor at the address it registers, here `http://127.0.0.1:3000/xxl-job/`: the
 * endpoints answer under `/xxl-job/`, every other route is the app's. Set `XXL_JOB_ADMIN_ADDRESSES` (and
 * `XXL_JOB_ACCESS_TOKEN`) to register with a real admin; without them, try it with curl:
 *
 *   curl -X POST http://127.0.0.1:3000/xxl-job/beat
 *   curl -X POST http://127.0.0.1:3000/xxl-job/run -d '{"jobId":1,"executorHandler":"echo","executorParams":"hi",
 *     "logId":1,"logDateTime":'$(date +%s000)',"glueType":"BEAN"}'
 *   curl -X POST http://127.0.0.1:3000/xxl-job/log -d '{"logId":1,"logDateTim":'$(date +%s000)',"fromLineNum":1}'
 */
import { ManagedRuntime } from "effect"
import express from "express"
// In your project: import { Executor, Mount } from "effect-xxl-job"
import { Executor, Mount } from "../src/index.js"
import { jobs } from "./jobs.js"

const port = Number(process.env.PORT ?? 3000)

// The executor without a server of its own; settings from the environment (and .env) over these.
const executor = ManagedRuntime.make(
  Executor.layerMountedFromEnv(jobs, {
    appName: "express-app",
    address: `http://127.0.0.1:${port}/xxl-job/`,
    logPath: "logs/xxl-job"
  })
)

const mount = await executor.runPromise(Mount.Mount)

const app = express()
// Before any body parser: the executor reads its own bodies, with its size and time limits.
app.use(mount.node)
app.use(express.json())
app.get("/", (_request, response) => {
  response.send("the app's own routes still work\n")
})

const server = app.listen(port, "127.0.0.1", () => console.log(`app on http://127.0.0.1:${port}/`))

// On a signal: stop taking requests, then let the executor drain (its runs, results and registration).
const stop = () => server.close(() => void executor.dispose().then(() => process.exit(0)))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
