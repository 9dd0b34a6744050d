// Types for the parts of gifenc (which ships none) that the preview uses.
declare module 'gifenc' {
  interface GifFrameOptions {
    palette?: number[][];
    delay?: number;
    repeat?: number;
  }
  interface GifEncoder {
    writeFrame(index: Uint8Array, width: number, height: number, opts?: GifFrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  const gifenc: { GIFEncoder(): GifEncoder };
  export default gifenc;
}
