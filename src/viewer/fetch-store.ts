/** The browser's WeightStore: the manifest and weight files over HTTP from a folder URL (`rdpv view` serves models/ at /models/). */
import { UserError } from '../errors.ts';
import type { WeightStore } from '../models/zoo.ts';

export function fetchStore(base: string, fetcher: typeof fetch = (input, init) => fetch(input, init)): WeightStore {
  const folder = base.endsWith('/') ? base : `${base}/`;
  const where = (name: string) => new URL(name, folder).href;
  return {
    where,
    async read(name: string): Promise<Uint8Array> {
      let response: Response;
      try {
        response = await fetcher(where(name));
      } catch (e) {
        throw new UserError(`cannot fetch ${where(name)} (${(e as Error).message})`);
      }
      if (!response.ok) throw new UserError(`cannot fetch ${where(name)} (HTTP ${response.status})`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}
