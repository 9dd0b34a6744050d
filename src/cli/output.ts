/**
 * What the CLI writes: files through a temporary name and a rename (never half a file), output
 * folders created as needed, filesystem problems as one line naming the path (exit 2), and a
 * standard output that is closed (`| head`) or full (`> /dev/full`) never stopping a file half-way.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../models/weights-io.ts';

/** The filesystem problems a user causes (or can fix) with a path, in words. */
const FS_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  EFBIG: 'file too large',
};

/** A Node filesystem error (it has a code we know), as one line naming its path; undefined for anything else. */
export function fsErrorLine(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.code !== 'string' || !(err.code in FS_PROBLEMS)) return undefined;
  const dest = (err as { dest?: string }).dest;
  const where = err.path !== undefined ? `'${err.path}'${dest !== undefined ? ` -> '${dest}'` : ''}: ` : '';
  return `${where}${FS_PROBLEMS[err.code]} (${err.code}${err.syscall ? `, ${err.syscall}` : ''})`;
}

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
const words = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code && FS_PROBLEMS[code] ? `${FS_PROBLEMS[code]} (${code})` : String(codeOf(e));
};

/** The words of each problem with a folder: for a folder named as such, or for the folder of an output file. */
function folderMessages(dir: string, what: string, file?: string) {
  return file === undefined
    ? {
        stat: (e: unknown) => `cannot use '${dir}' as the ${what}: ${words(e)}`,
        notFolder: `cannot use '${dir}' as the ${what}: it exists and is not a folder`,
        create: (e: unknown) => `cannot create the ${what} '${dir}': ${words(e)}`,
        write: (e: unknown) => `cannot write into the ${what} '${dir}': ${words(e)}`,
      }
    : {
        stat: (e: unknown) => `cannot write '${file}': ${words(e)}`,
        notFolder: `cannot write '${file}': '${dir}' exists and is not a folder`,
        create: (e: unknown) => `cannot write '${file}': cannot create its folder '${dir}': ${words(e)}`,
        write: (e: unknown) => `cannot write '${file}': its folder '${dir}' does not take new files: ${words(e)}`,
      };
}

function statOrFail(path: string, message: (e: unknown) => string) {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw new UserError(message(e));
  }
}

/** mkdir -p, one level at a time: a recursive mkdir reports ENOENT where the real problem is EROFS or EACCES. */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Create `dir` and its parents, and check that it takes new files; a problem is one line naming the folder. */
export function ensureFolder(dir: string, what = 'output folder', file?: string): void {
  const m = folderMessages(dir, what, file);
  const st = statOrFail(dir, m.stat);
  if (st && !st.isDirectory()) throw new UserError(m.notFolder);
  if (!st) {
    try {
      mkdirs(dir);
    } catch (e) {
      throw new UserError(m.create(e));
    }
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UserError(m.write(e));
  }
}

/**
 * Before any work: the output file's folder exists (created if need be) and takes a new file,
 * and the path is not a folder or a device (a file is replaced by renaming over it).
 */
export function prepareOutputFile(path: string): void {
  ensureFolder(dirname(path), 'folder', path);
  const st = statOrFail(path, (e) => `cannot write '${path}': ${words(e)}`);
  if (st?.isDirectory()) throw new UserError(`cannot write '${path}': it is a folder`);
  if (st && !st.isFile()) throw new UserError(`cannot write '${path}': it is not a regular file (a device or pipe cannot be replaced atomically)`);
}

/** Write a whole file atomically (temporary name, then rename), creating its folder; no temporary file is left on failure. */
export function writeOutput(path: string, bytes: Uint8Array): void {
  prepareOutputFile(path);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new UserError(`cannot write '${path}': ${words(e)}`);
  }
}

/** Whether standard output broke, and how (EPIPE: the reader left; anything else: a real error). */
let stdoutError: NodeJS.ErrnoException | undefined;

/**
 * Keep writing files when standard output goes away. A reader that closes the pipe (`| head -1`)
 * or a full disk (`> /dev/full`) makes stdout fail; from then on what the command prints is
 * dropped and it finishes its files. `stdoutFailure()` tells main.ts what to report at the end.
 */
export function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (stream === process.stdout) stdoutError ??= e;
      // Drop what is printed from now on rather than failing on a destroyed stream.
      stream.write = (() => true) as typeof stream.write;
    });
  }
}
let stdoutGuarded = false;

/** undefined when stdout is fine or its reader left (EPIPE); else the one line to print on stderr. */
export function stdoutFailure(): string | undefined {
  if (!stdoutError || stdoutError.code === 'EPIPE') return undefined;
  return `cannot write to standard output: ${words(stdoutError)}`;
}

/** Progress on stderr: rewritten in place on a terminal, else one line per call. */
export function progress(): { say(line: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let open = false;
  return {
    say(line) {
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
        open = true;
      } else console.error(line);
    },
    done() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}
