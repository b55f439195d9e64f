import { createRequire } from 'node:module';

/**
 * Loads an optional peer dependency of a subpath entry point, so that importing the subpath
 * without it fails with the command that fixes it rather than Node's bare "Cannot find
 * package". The error's `code` is `ERR_MODULE_NOT_FOUND`, as Node's own for a package an
 * ES module imports and cannot find. Synchronous on purpose: a top-level await would stop
 * `require()` of the subpath.
 * @internal
 */
export function loadOptionalPeer<T>(name: string, subpath: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (err) {
    // Only the peer itself being absent is ours to explain; anything else (a broken install
    // of the peer, one of its own dependencies missing) is reported as it is.
    const code = (err as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${name}'`)) {
      const missing = new Error(
        `${subpath} needs the optional peer dependency '${name}', which is not installed: ` +
          `run \`npm install ${name}\``,
        { cause: err },
      );
      throw Object.assign(missing, { code: 'ERR_MODULE_NOT_FOUND' });
    }
    throw err;
  }
}
