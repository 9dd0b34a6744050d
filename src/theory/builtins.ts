/**
 * The sources used when `rdpv theory` gets no --source. Each is also a file in
 * examples/theory/ (a test keeps the two identical).
 */

/** Binary Markov chain over 3 frames: X_1 uniform on {0, 1}, each next frame flips with probability `flip`. */
function binaryMarkov(flip: number) {
  const support: number[][][] = [], p: number[] = [];
  for (const a of [0, 1]) for (const b of [0, 1]) for (const c of [0, 1]) {
    support.push([[a], [b], [c]]);
    p.push(0.5 * (a === b ? 1 - flip : flip) * (b === c ? 1 - flip : flip));
  }
  return { support, p };
}

const markov = binaryMarkov(0.25);

export const builtins = {
  /** fmd, jd: frame 1 sent exactly, frame 2 not sent at all, frame 3 sent exactly. */
  'binary-markov': {
    source: markov,
    encoder: { messages: markov.support.map(([x1, , x3]) => [x1![0]!, '-', x3![0]!]) },
  },
  /** counterexample: X_1 uniform on {-1, +1} and X_2 = X_1 (Appendix B.1). */
  counterexample: { source: { support: [[[-1], [-1]], [[1], [1]]], p: [0.5, 0.5] } },
  /** low-rate: the binary Markov source; the family builds its own encoder. */
  'low-rate': { source: markov },
} as const;
