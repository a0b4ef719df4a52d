/**
 * Run log text as a terminal shows it. Java's run logs carry literal `<br>` markers (the admin's web page
 * renders them); the terminal views (`effect-xxl-job run`, the development admin's lines) break the line
 * there instead. The log itself, as stored and as `/log` serves it, keeps them.
 *
 * @internal
 */

/**
 * The lines of run log text for a terminal: broken at each newline and each `<br>`, without trailing spaces
 * and without the empty pieces a marker leaves (at the start of a line, say); an empty line logged stays.
 *
 * @internal
 */
export const terminalLines = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n/).flatMap((line) => {
    const pieces = line.split(/<br\s*\/?>/i).map((piece) => piece.trimEnd())
    return pieces.length === 1 ? pieces : pieces.filter((piece) => piece !== "")
  })
