/**
 * Exact-rate packing: symbols s_i of alphabet sizes r_i form one mixed-radix integer
 * V = (...((s_0 r_1 + s_1) r_2 + s_2)...) r_{n-1} + s_{n-1}  (first symbol most significant),
 * 0 <= V < prod r_i, written big-endian in exactly ceil(log2(prod r_i) / 8) bytes, which is
 * ceil(sum log2 r_i / 8): no symbol is rounded up to whole bits.
 * A balanced split (V = V_left * P_right + V_right) keeps long files fast, since V8's
 * BigInt multiply and divide are subquadratic for large operands.
 */
import { RdpvFormatError } from './errors.ts';

const LEAF = 64;

interface Node {
  lo: number;
  hi: number;
  product: bigint;
  left?: Node;
  right?: Node;
}

function productTree(radices: ArrayLike<number>, lo: number, hi: number): Node {
  if (hi - lo <= LEAF) {
    let product = 1n;
    for (let i = lo; i < hi; i++) product *= BigInt(radices[i]!);
    return { lo, hi, product };
  }
  const mid = (lo + hi) >>> 1;
  const left = productTree(radices, lo, mid);
  const right = productTree(radices, mid, hi);
  return { lo, hi, product: left.product * right.product, left, right };
}

function checkRadices(radices: ArrayLike<number>): void {
  for (let i = 0; i < radices.length; i++) {
    const r = radices[i]!;
    if (!Number.isInteger(r) || r < 1 || r > 0xffffffff) throw new RangeError(`radix ${r} at ${i} is not an integer in [1, 2^32)`);
  }
}

/** Bytes that packing symbols of these alphabet sizes takes: ceil(log2(prod r) / 8). */
export function packedLength(radices: ArrayLike<number>): number {
  checkRadices(radices);
  return byteLength(productTree(radices, 0, radices.length).product);
}

/** Bytes for integers in [0, product): ceil(bitlength(product - 1) / 8). */
function byteLength(product: bigint): number {
  return product <= 1n ? 0 : Math.ceil((product - 1n).toString(2).length / 8);
}

function pack(node: Node, symbols: ArrayLike<number>, radices: ArrayLike<number>): bigint {
  if (node.left && node.right) return pack(node.left, symbols, radices) * node.right.product + pack(node.right, symbols, radices);
  let v = 0n;
  for (let i = node.lo; i < node.hi; i++) v = v * BigInt(radices[i]!) + BigInt(symbols[i]!);
  return v;
}

function unpack(v: bigint, node: Node, radices: ArrayLike<number>, out: Uint32Array): void {
  if (node.left && node.right) {
    const high = v / node.right.product;
    unpack(high, node.left, radices, out);
    unpack(v - high * node.right.product, node.right, radices, out);
    return;
  }
  for (let i = node.hi - 1; i >= node.lo; i--) {
    const r = BigInt(radices[i]!);
    out[i] = Number(v % r);
    v /= r;
  }
}

export function packSymbols(symbols: ArrayLike<number>, radices: ArrayLike<number>): Uint8Array {
  if (symbols.length !== radices.length) throw new RangeError(`${symbols.length} symbols but ${radices.length} radices`);
  checkRadices(radices);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i]!;
    if (!Number.isInteger(s) || s < 0 || s >= radices[i]!) throw new RangeError(`symbol ${s} at ${i} is outside [0, ${radices[i]})`);
  }
  const tree = productTree(radices, 0, radices.length);
  const n = byteLength(tree.product);
  const bytes = new Uint8Array(n);
  if (n === 0) return bytes;
  const hex = pack(tree, symbols, radices).toString(16).padStart(2 * n, '0');
  for (let i = 0; i < n; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Inverse of packSymbols; bytes of the wrong length or a value past the alphabet are a format error. */
export function unpackSymbols(bytes: Uint8Array, radices: ArrayLike<number>): Uint32Array {
  checkRadices(radices);
  const tree = productTree(radices, 0, radices.length);
  const n = byteLength(tree.product);
  if (bytes.length !== n) throw new RdpvFormatError(`packed symbols take ${bytes.length} bytes, expected ${n}`);
  const out = new Uint32Array(radices.length);
  if (n === 0) return out;
  const v = BigInt('0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''));
  if (v >= tree.product) throw new RdpvFormatError('packed symbols exceed their alphabet (corrupt payload)');
  unpack(v, tree, radices, out);
  return out;
}
