import { writeFileSync } from 'node:fs';

/** Writes a .npy file of the given shape, float32 ('<f4') or uint8 ('|u1'), written here apart from the reader under test. */
export function npy(path: string, shape: number[], values: Float32Array | Uint8Array): string {
  let header = `{'descr': '${values instanceof Uint8Array ? '|u1' : '<f4'}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(new TextEncoder().encode(header), 10);
  writeFileSync(path, Buffer.concat([head, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)]));
  return path;
}
