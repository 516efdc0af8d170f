// Types for the parts of gifenc (https://github.com/mattdesl/gifenc, no bundled types) that render.ts uses.
declare module "gifenc" {
  export interface GifEncoder {
    writeFrame(
      index: Uint8Array,
      width: number,
      height: number,
      options?: { palette?: number[][]; delay?: number; repeat?: number; transparent?: boolean; dispose?: number },
    ): void;
    finish(): void;
    bytes(): Uint8Array;
  }
  export interface Gifenc {
    GIFEncoder(options?: { auto?: boolean; initialCapacity?: number }): GifEncoder;
  }
  const gifenc: Gifenc;
  export default gifenc;
  export function GIFEncoder(options?: { auto?: boolean; initialCapacity?: number }): GifEncoder;
}
