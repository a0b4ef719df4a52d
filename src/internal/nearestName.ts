/**
 * The known name nearest to a misspelled one, for "did you mean …?" in warnings.
 *
 * @internal
 */

/** Levenshtein distance: the edits (insert, delete, replace) from `a` to `b`. */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution)
    }
    previous = current
  }
  return previous[b.length]
}

/**
 * The candidate nearest to `name` (case and underscores aside), when it is near enough to be a typo of it:
 * at most one edit in three letters.
 *
 * @internal
 */
export const nearestName = (name: string, candidates: Iterable<string>): string | undefined => {
  const bare = (text: string) => text.toUpperCase().replaceAll("_", "")
  let best: { candidate: string; score: readonly [number, number] } | undefined
  for (const candidate of candidates) {
    const score = [
      editDistance(bare(name), bare(candidate)),
      editDistance(name.toUpperCase(), candidate.toUpperCase())
    ] as const
    if (best === undefined || score[0] < best.score[0] || (score[0] === best.score[0] && score[1] < best.score[1])) {
      best = { candidate, score }
    }
  }
  if (best === undefined) return undefined
  return best.score[0] * 3 <= Math.max(bare(name).length, bare(best.candidate).length) ? best.candidate : undefined
}
