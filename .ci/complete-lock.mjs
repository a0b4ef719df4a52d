// Completes package-lock.json with the optional, platform-specific packages (rollup, msgpackr-extract, …)
// that npm leaves out when the registry it installs from does not serve other platforms' binaries. Without
// their entries `npm ci` refuses the lock ("Missing: … from lock file"); with them, npm ci skips them by
// their os/cpu/libc fields on this machine, as it would skip them anywhere else.
//
// Run after `npm install` changes the lock: `node .ci/complete-lock.mjs`.
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const packages = lock.packages

const oses = ["aix", "android", "darwin", "freebsd", "linux", "netbsd", "openbsd", "openharmony", "sunos", "win32"]
const cpus = ["arm", "arm64", "ia32", "loong64", "mips64el", "ppc64", "riscv64", "s390x", "x64"]

/** os, cpu and libc from a name like `@rollup/rollup-linux-arm64-musl`. */
const platformOf = (name) => {
  const tokens = name.slice(name.lastIndexOf("/") + 1).split("-")
  const os = tokens.find((t) => oses.includes(t))
  const cpu = tokens.find((t) => cpus.includes(t))
  const libcToken = tokens.find((t) => t.startsWith("musl") || t.startsWith("gnu"))
  if (os === undefined || cpu === undefined) return undefined
  const platform = { cpu: [cpu], os: [os] }
  if (os === "linux" && libcToken !== undefined) platform.libc = [libcToken.startsWith("musl") ? "musl" : "glibc"]
  return platform
}

let added = 0
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`
    if (packages[target] !== undefined || packages[`${key}/${target}`] !== undefined) continue
    const platform = platformOf(name)
    if (platform === undefined) continue
    packages[target] = { version, ...platform, ...(entry.dev ? { dev: true } : {}), optional: true }
    added++
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1))
)
lock.packages = sorted
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lock: added ${added} platform entries`)
