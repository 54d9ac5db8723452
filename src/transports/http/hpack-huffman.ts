/**
 * HPACK's static Huffman code (RFC 7541 Appendix B), for decoding header strings.
 *
 * The code is canonical: ordered by (code length, symbol), each code is the previous one plus
 * one, shifted left whenever the length grows. So the whole table is determined by the code
 * length of each of the 257 symbols (256 octets + EOS), which is what is stored below, one
 * character per symbol in base 32 (`5` = 5 bits, `a` = 10, `u` = 30). The codes themselves are
 * rebuilt from the lengths at load time (the tests check known codes of the RFC against them).
 *
 * Decoding walks a binary tree stored flat in an Int32Array, four bits at a time through a
 * precomputed transition table (16 entries per tree node): each entry gives the node reached
 * after those four bits and up to one symbol emitted on the way (no code is shorter than 5
 * bits, so at most one symbol completes within 4 bits).
 */

/** Code lengths of symbols 0..255, base 32; EOS (symbol 256) is 30 bits. */
const LENGTHS =
  'dnsssssssoussussssssssusssssssss' + //   0 -  31
  '6aacd68baa8b8666555666666678f6ca' + //  32 -  63
  'd67777777777777777777777878djde6' + //  64 -  95
  'f56565666577666567655677777fbeds' + //  96 - 127
  'kmkkmmmnmnnnnnonoomnonnnnlmnmnno' + // 128 - 159
  'mlkmmnnlnmmolmnnllmlnmnnkmmmnmmn' + // 160 - 191
  'qqkjmnmpqqqrrqopjlqrrqrollqqsrrr' + // 192 - 223
  'koklmllnmmppooqnqrqqrrrrrsrrrrrq'; //  224 - 255

/** The EOS symbol, which must never appear inside a string. */
const EOS = 256;

/** Code length (bits) of each symbol 0..256. */
export const HUFFMAN_LENGTHS: readonly number[] = [...LENGTHS].map((c) => parseInt(c, 32)).concat(30);

/** Code of each symbol 0..256 (right-aligned in its length), rebuilt canonically. */
export const HUFFMAN_CODES: readonly number[] = (() => {
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const codes = new Array<number>(257).fill(0);
  let code = 0;
  let len = order[0]!.len;
  for (let i = 0; i < order.length; i++) {
    const e = order[i]!;
    if (i > 0) code = (code + 1) * 2 ** (e.len - len);
    len = e.len;
    codes[e.sym] = code;
  }
  return codes;
})();

// The tree: node n has children at tree[2n] (bit 0) and tree[2n+1] (bit 1); a value >= 0 is
// an inner node index, a value < 0 is a leaf holding symbol -(value + 1).
const tree = (() => {
  const t: number[] = [0, 0];
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      const slot = 2 * n + bit;
      if (b === 0) {
        t[slot] = -(sym + 1);
      } else {
        if (t[slot] === 0) {
          t[slot] = nodes++;
          t.push(0, 0);
        }
        n = t[slot]!;
      }
    }
  }
  return Int32Array.from(t);
})();

const NODES = tree.length / 2;

// Per (node, nibble): next node, symbol emitted (or -1), and flags. `accepting[n]` says that
// ending a string in node n is valid padding: n is reached from the root by at most 7 one-bits.
const nextNode = new Int32Array(NODES * 16);
const emitted = new Int32Array(NODES * 16);
const FAIL = -2;
const accepting = new Uint8Array(NODES);

(() => {
  // Depth in ones from the root along the all-ones path (the EOS prefix).
  let n = 0;
  accepting[0] = 1;
  for (let i = 1; i <= 7; i++) {
    n = tree[2 * n + 1]!;
    accepting[n] = 1;
  }
  for (let node = 0; node < NODES; node++) {
    for (let nib = 0; nib < 16; nib++) {
      let cur = node;
      let sym = -1;
      let ok = true;
      for (let b = 3; b >= 0; b--) {
        const v = tree[2 * cur + ((nib >> b) & 1)]!;
        if (v < 0) {
          const s = -v - 1;
          if (s === EOS || sym >= 0) {
            ok = false;
            break;
          }
          sym = s;
          cur = 0;
        } else {
          cur = v;
        }
      }
      nextNode[node * 16 + nib] = ok ? cur : FAIL;
      emitted[node * 16 + nib] = sym;
    }
  }
})();

/** Scratch output, grown on demand; strings are copied out of it. */
let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes `src[start, end)` as a Huffman-coded string into latin1 text (one char per octet).
 * Returns null if the input is invalid: EOS inside, or padding longer than 7 bits or not a
 * prefix of EOS (RFC 7541 §5.2 makes both decoding errors).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string | null {
  // Each input octet yields at most 8/5 symbols.
  const max = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let node = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let k = node * 16 + (byte >> 4);
    let s = emitted[k]!;
    node = nextNode[k]!;
    if (node === FAIL) return null;
    if (s >= 0) out[o++] = s;
    k = node * 16 + (byte & 15);
    s = emitted[k]!;
    node = nextNode[k]!;
    if (node === FAIL) return null;
    if (s >= 0) out[o++] = s;
  }
  if (accepting[node] !== 1) return null;
  return out.toString('latin1', 0, o);
}

/** Huffman-encodes latin1 text (for tests and clients; the server sends plain literals). */
export function huffmanEncode(text: string): Buffer {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const sym = text.charCodeAt(i) & 0xff;
    const len = HUFFMAN_LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    for (let b = len - 1; b >= 0; b--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** b) & 1);
      if (++bits === 8) {
        bytes.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) bytes.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return Buffer.from(bytes);
}
