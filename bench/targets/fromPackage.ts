/**
 * Where a target takes the package's modules from: the package as the bench compiled it (`BENCH_BUILD`, see
 * `packageBuild` in `bench/lib.ts`), else the sources (under tsx). Give the result to `import()`.
 */
import * as Path from "node:path"
import * as Url from "node:url"

export const fromPackage = (module: string): string =>
  process.env.BENCH_BUILD
    ? Url.pathToFileURL(Path.join(process.env.BENCH_BUILD, `${module}.js`)).href
    : `../../src/${module}.js`
