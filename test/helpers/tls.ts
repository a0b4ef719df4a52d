/**
 * A self-signed TLS certificate for 127.0.0.1, for tests of `https://` admins.
 */
import { afterAll } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A self-signed certificate for 127.0.0.1, made with openssl (undefined where openssl is not installed). */
export const selfSigned = (() => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-tls-"))
  try {
    ChildProcess.execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      Path.join(dir, "key.pem"),
      "-out",
      Path.join(dir, "cert.pem")
    ], { stdio: "ignore" })
    return {
      key: Fs.readFileSync(Path.join(dir, "key.pem")),
      cert: Fs.readFileSync(Path.join(dir, "cert.pem"))
    }
  } catch {
    return undefined
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})()

/** A test's title, saying why it was skipped where openssl is not installed. */
export const tlsTitle = (title: string) =>
  selfSigned === undefined ? `${title} [skipped: openssl is not installed]` : title

/**
 * The certificate as a PEM file, for NODE_EXTRA_CA_CERTS (undefined where openssl is not installed); its
 * folder goes after the test file's tests.
 */
export const selfSignedFile = selfSigned === undefined ? undefined : (() => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "xxl-ca-"))
  afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))
  const file = Path.join(dir, "ca.pem")
  Fs.writeFileSync(file, selfSigned.cert)
  return file
})()
