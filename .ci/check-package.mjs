// `npm run check:package`: the package as npm would publish it, checked from the packed tarball. It builds
// `dist/`, packs it, lints the tarball with publint and @arethetypeswrong/cli, installs it into a fresh project
// and uses it there as a user would: the root's names, `./testing`, `./dev`, the engine out of reach, the bin,
// and `require()` on Node 20.19+. One line per check; on a failure, the tool's output and then one line saying
// what failed. Everything happens in a temporary directory that is removed at the end.
//
// Allowed, and only this (see the README, "Install", and docs/compatibility.md): the package is ESM only, so attw's `cjs-resolves-to-esm` for
// node16 from CommonJS. node10, node16 from ESM and bundler must resolve every entry point with no problem.
//
// The fresh project installs with `npm ci --offline`: its lock is this checkout's lock cut down to what the
// tarball needs (so the same versions, from the cache `npm ci` filled), plus the tarball itself, checked by its
// integrity. On a cold cache it falls back to the registry for what is missing. CHECK_PACKAGE_KEEP=1 keeps the
// temporary directory (and prints where it is) to look into a failure.
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const require = createRequire(join(root, "package.json"))
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const name = manifest.name

/** The entry points a user imports, the file their types must resolve to, and a name each must export. */
const entries = [
  { subpath: ".", specifier: name, types: "dist/index.d.ts" },
  { subpath: "./testing", specifier: `${name}/testing`, types: "dist/testing.d.ts", exports: "MockAdmin" },
  { subpath: "./dev", specifier: `${name}/dev`, types: "dist/dev.d.ts", exports: "DevAdmin" }
]
/** The most names the package's root may export (the eight namespaces, and room for a few). */
const maxRootNames = 12
/** Specifiers that must not resolve: the engine, under any path. */
const closed = [`${name}/Lanes`, `${name}/internal/lanes`, `${name}/dist/internal/lanes.js`, `${name}/src/index.ts`]
/** attw's rules allowed to fail, and where: ESM only means `require` from node16 CommonJS resolves to ESM. */
const allowed = { rule: "cjs-resolves-to-esm", kind: "CJSResolvesToESM", resolution: "node16-cjs" }

class CheckFailed extends Error {}

const started = Date.now()
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`
const ok = (check, detail) => console.log(`ok   ${check}${detail === undefined ? "" : `: ${detail}`}`)
const fail = (check, reason, output) => {
  if (output !== undefined && output.trim() !== "") console.error(output.trimEnd())
  throw new CheckFailed(`${check}: ${reason}`)
}

/** Runs a command, returns its stdout; a non-zero exit fails `check` with its output. */
const run = (check, command, args, options = {}) => {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options })
  if (result.error !== undefined) fail(check, `${command} did not start: ${result.error.message}`)
  if (result.status !== 0) {
    fail(
      check,
      `${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`,
      result.stdout + result.stderr
    )
  }
  return result.stdout
}

/**
 * This checkout's lock cut down to what `pkg` installs: its dependencies and non-optional peers, theirs, and so on,
 * found where Node would find them from `node_modules/<name>`. Entries reached only through optional edges are
 * marked optional (the other platforms' binaries), the rest required; dev flags go.
 */
const lockFor = (pkg, tarball, integrity) => {
  const packages = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages
  const find = (from, dep) => {
    for (let base = from;;) {
      const path = `${base === "" ? "" : `${base}/`}node_modules/${dep}`
      if (packages[path] !== undefined) return path
      if (base === "") return undefined
      const cut = base.lastIndexOf("/node_modules/")
      base = cut < 0 ? "" : base.slice(0, cut)
    }
  }
  const edges = (entry) => [
    ...Object.keys(entry.dependencies ?? {}).map((dep) => [dep, false]),
    ...Object.keys(entry.peerDependencies ?? {})
      .filter((dep) => entry.peerDependenciesMeta?.[dep]?.optional !== true)
      .map((dep) => [dep, false]),
    ...Object.keys(entry.optionalDependencies ?? {}).map((dep) => [dep, true])
  ]
  const self = `node_modules/${pkg.name}`
  const reach = (withOptional) => {
    const seen = new Set()
    const queue = [[self, pkg]]
    while (queue.length > 0) {
      const [from, entry] = queue.shift()
      for (const [dep, optional] of edges(entry)) {
        if (optional && !withOptional) continue
        const path = find(from, dep)
        if (path === undefined) {
          if (optional) continue
          throw new Error(`package-lock.json has no ${dep}, which ${from} needs`)
        }
        if (seen.has(path)) continue
        seen.add(path)
        queue.push([path, packages[path]])
      }
    }
    return seen
  }
  const required = reach(false)
  const all = [...reach(true)].sort()
  const lock = {
    name: "check-package-app",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "check-package-app", dependencies: { [pkg.name]: `file:${tarball}` } },
      [self]: {
        version: pkg.version,
        resolved: `file:${tarball}`,
        integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        peerDependencies: pkg.peerDependencies,
        peerDependenciesMeta: pkg.peerDependenciesMeta,
        bin: pkg.bin,
        engines: pkg.engines
      }
    }
  }
  for (const path of all) {
    const { dev: _dev, devOptional: _devOptional, optional: _optional, peer: _peer, ...entry } = packages[path]
    lock.packages[path] = required.has(path) ? entry : { ...entry, optional: true }
  }
  return lock
}

/** What the fresh project runs, as a user's code would: `import` and `require` of the installed package. */
const userCheck = `
const [name, entries, closed] = JSON.parse(process.argv[1])
const out = {}
const root = await import(name)
out.rootNames = Object.keys(root)
out.entries = {}
for (const entry of entries.filter((e) => e.exports !== undefined)) {
  out.entries[entry.specifier] = Object.keys(await import(entry.specifier))
}
out.closed = {}
for (const specifier of closed) {
  out.closed[specifier] = await import(specifier).then(() => "imported", (e) => e.code ?? String(e))
}
console.log(JSON.stringify(out))
`
const requireCheck = `
const [name] = JSON.parse(process.argv[1])
console.log(JSON.stringify(Object.keys(require(name))))
`

const temp = mkdtempSync(join(tmpdir(), "check-package-"))
const cleanUp = () => {
  if (process.env.CHECK_PACKAGE_KEEP === undefined) rmSync(temp, { recursive: true, force: true })
  else console.log(`kept ${temp}`)
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanUp()
    console.error(`check:package FAILED: stopped by ${signal}`)
    process.exit(1)
  })
}

const main = async () => {
  try {
    let since = Date.now()
    rmSync(join(root, "dist"), { recursive: true, force: true })
    run("build", "npm", ["run", "--silent", "build"], { cwd: root })
    ok("build", `npm run build, dist/ from a clean start (${seconds(since)})`)

    since = Date.now()
    const [packed] = JSON.parse(
      run("pack", "npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", temp], { cwd: root })
    )
    const tarball = join(temp, packed.filename)
    const paths = packed.files.map((file) => file.path)
    for (const needed of ["package.json", "dist/bin.js", ...entries.map((e) => e.types)]) {
      if (!paths.includes(needed)) fail("pack", `the tarball has no ${needed}`)
    }
    ok("pack", `${packed.filename}, ${paths.length} files, ${(packed.size / 1024).toFixed(0)} kB (${seconds(since)})`)

    since = Date.now()
    const { publint } = await import(require.resolve("publint"))
    const { formatMessage } = await import(require.resolve("publint/utils"))
    const data = readFileSync(tarball)
    const linted = await publint({
      level: "suggestion",
      strict: true,
      pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }
    })
    if (linted.messages.length > 0) {
      const lines = linted.messages.map((m) => `  ${m.type}: ${formatMessage(m, linted.pkg, { color: false })}`)
      fail("publint", `${linted.messages.length} message(s) on the tarball`, lines.join("\n"))
    }
    ok("publint", `no errors, warnings or suggestions (${seconds(since)})`)

    since = Date.now()
    const attwBin = join(require.resolve("@arethetypeswrong/cli/package.json"), "..", "dist", "index.js")
    const attwArgs = [attwBin, tarball, "--format", "json", "--ignore-rules", allowed.rule]
    const attwRun = spawnSync(process.execPath, attwArgs, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 })
    let report
    try {
      report = JSON.parse(attwRun.stdout)
    } catch {
      fail("attw", `no report (exit ${attwRun.status})`, attwRun.stderr)
    }
    const { analysis } = report
    if (!analysis.types) fail("attw", "the tarball has no types")
    const problems = analysis.problems ?? []
    const unexpected = problems.filter((p) => p.kind !== allowed.kind || p.resolutionKind !== allowed.resolution)
    if (unexpected.length > 0 || attwRun.status !== 0) {
      const table = spawnSync(process.execPath, [attwBin, tarball, "--ignore-rules", allowed.rule, "--no-color"], {
        encoding: "utf8"
      }).stdout
      fail("attw", `${unexpected.length} problem(s) besides ${allowed.rule} (exit ${attwRun.status})`, table)
    }
    const found = Object.keys(analysis.entrypoints).sort()
    const expected = [...entries.map((e) => e.subpath), "./package.json"].sort()
    if (found.join() !== expected.join()) fail("attw", `entry points ${found.join(", ")}, not ${expected.join(", ")}`)
    for (const entry of entries) {
      const { resolutions } = analysis.entrypoints[entry.subpath]
      for (const kind of ["node10", "node16-esm", "bundler"]) {
        const file = resolutions[kind]?.resolution?.fileName
        if (file !== `/node_modules/${name}/${entry.types}`) {
          fail("attw", `${entry.specifier} under ${kind} resolves to ${file ?? "nothing"}, not ${entry.types}`)
        }
      }
      if (resolutions["node16-cjs"]?.resolution?.fileName !== `/node_modules/${name}/${entry.types}`) {
        fail("attw", `${entry.specifier} under node16 from CommonJS does not resolve to ${entry.types}`)
      }
    }
    const ignored = problems.length === 0 ? "" : `; ${problems.length} ${allowed.rule} from node16-cjs, as stated`
    ok(
      "attw",
      `${entries.map((e) => e.subpath).join(", ")} clean under node10, node16 (ESM) and bundler${ignored} (${
        seconds(since)
      })`
    )

    since = Date.now()
    const app = join(temp, "app")
    mkdirSync(app)
    const pkg = JSON.parse(
      execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })
    )
    const relative = `../${packed.filename}`
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({
        name: "check-package-app",
        private: true,
        type: "module",
        dependencies: { [name]: `file:${relative}` }
      })
    )
    const lock = lockFor(pkg, relative, packed.integrity)
    writeFileSync(join(app, "package-lock.json"), JSON.stringify(lock, null, 2))
    const install = ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    const offline = spawnSync("npm", [...install, "--offline"], { cwd: app, encoding: "utf8" })
    let how = "offline, from the npm cache"
    if (offline.status !== 0) {
      if (!/ENOTCACHED/.test(offline.stderr)) {
        fail("install", `npm ci --offline exited with ${offline.status}`, offline.stdout + offline.stderr)
      }
      run("install", "npm", [...install, "--prefer-offline"], { cwd: app })
      how = "the npm cache lacked some packages: fetched them from the registry"
    }
    const installed = join(app, "node_modules", name)
    if (!existsSync(join(installed, "package.json"))) fail("install", `no node_modules/${name} after npm ci`)
    const count = Object.keys(lock.packages).length - 2
    ok(
      "install",
      `npm ci of the tarball into a fresh project with ${count} packages from the lock, ${how} (${seconds(since)})`
    )

    const args = JSON.stringify([name, entries, closed])
    const used = JSON.parse(
      run("import", process.execPath, ["--input-type=module", "-e", userCheck, args], { cwd: app }).trim()
    )
    if (used.rootNames.length > maxRootNames) {
      fail(
        "import",
        `${name} exports ${used.rootNames.length} names, more than ${maxRootNames}: ${used.rootNames.join(", ")}`
      )
    }
    ok("import", `${name}: ${used.rootNames.length} names (at most ${maxRootNames}): ${used.rootNames.join(", ")}`)
    for (const entry of entries.filter((e) => e.exports !== undefined)) {
      const names = used.entries[entry.specifier]
      if (!names.includes(entry.exports)) {
        fail("import", `${entry.specifier} exports ${names.join(", ")}, not ${entry.exports}`)
      }
      ok("import", `${entry.specifier}: ${names.join(", ")}`)
    }
    for (const specifier of closed) {
      const outcome = used.closed[specifier]
      if (outcome !== "ERR_PACKAGE_PATH_NOT_EXPORTED") {
        fail("closed", `import("${specifier}") gave ${outcome}, not ERR_PACKAGE_PATH_NOT_EXPORTED`)
      }
    }
    ok("closed", `${closed.map((s) => `import("${s}")`).join(", ")}: ERR_PACKAGE_PATH_NOT_EXPORTED`)

    const bin = join(app, "node_modules", ".bin", Object.keys(pkg.bin)[0])
    const help = run("bin", bin, ["--help"], { cwd: app })
    if (!help.includes(Object.keys(pkg.bin)[0])) fail("bin", "--help printed no usage", help)
    ok("bin", `node_modules/.bin/${Object.keys(pkg.bin)[0]} --help exits 0`)

    const [major, minor] = process.versions.node.split(".").map(Number)
    if (major > 20 || (major === 20 && minor >= 19)) {
      const requiredNames = JSON.parse(run("require", process.execPath, ["-e", requireCheck, args], { cwd: app }))
      if (requiredNames.join() !== used.rootNames.join()) {
        fail("require", `require("${name}") gave ${requiredNames.join(", ")}, import gave ${used.rootNames.join(", ")}`)
      }
      ok("require", `require("${name}") on Node ${process.versions.node}: the same ${requiredNames.length} names`)
    } else {
      console.log(`skip require: Node ${process.versions.node} has no require() of ES modules (20.19+ has)`)
    }
    ok("check:package", `all checks passed (${seconds(started)})`)
  } finally {
    cleanUp()
  }
}

main().catch((error) => {
  if (!(error instanceof CheckFailed)) console.error(error)
  console.error(`check:package FAILED: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
