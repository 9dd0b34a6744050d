/**
 * A real single-node Slurm (slurm-wlm and munge, ../shared/DESIGN.md section 9) runs the tiny
 * Table 1 grid as an array job of 3 shards; the merged shards must give the table of one run.
 * Everything lives in a temporary folder (munge key and socket, slurm.conf through SLURM_CONF,
 * spool, logs, ports of our own), and the daemons are stopped by their process ids. Skipped
 * with a message where Slurm is not installed or the test does not run as root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Table1 } from '../src/repro/table1.ts';
import { table1Cells, table1Grid } from '../src/repro/table1.ts';
import { runCli } from './run-cli.ts';

const ROOT = join(import.meta.dirname, '..');
const BINARIES = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'sinfo'];
const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`]).status !== 0);
const skip = missing.length ? `Slurm is not installed (no ${missing.join(', ')}: apt-get install slurm-wlm munge)`
  : process.getuid?.() !== 0 ? 'starting munged and the Slurm daemons needs root' : false;
const bin = (b: string) => (spawnSync('sh', ['-c', `command -v ${b}`]).stdout.toString().trim() || `/usr/sbin/${b}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start munged, slurmctld and slurmd in `dir`; returns the environment for Slurm clients and a stop function. */
async function startSlurm(dir: string): Promise<{ env: NodeJS.ProcessEnv; stop: () => Promise<void> }> {
  const daemons: ChildProcess[] = [];
  const start = (name: string, args: string[]) => {
    const out = openSync(join(dir, `${name}.out`), 'w');
    const child = spawn(bin(name), args, { stdio: ['ignore', out, out] });
    daemons.push(child);
    return child;
  };
  const stop = async () => {
    for (const d of daemons.reverse()) {
      if (d.exitCode !== null || d.signalCode !== null) continue;
      const gone = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      if ((await Promise.race([gone.then(() => true), sleep(10_000).then(() => false)])) === false) d.kill('SIGKILL');
    }
  };
  try {
    const munge = join(dir, 'munge');
    mkdirSync(munge, { mode: 0o700 });
    writeFileSync(join(munge, 'munge.key'), randomBytes(1024));
    chmodSync(join(munge, 'munge.key'), 0o400);
    const socket = join(munge, 'socket');
    start('munged', ['-F', '--force', `--key-file=${join(munge, 'munge.key')}`, `--socket=${socket}`, `--pid-file=${join(munge, 'pid')}`,
      `--log-file=${join(munge, 'log')}`, `--seed-file=${join(munge, 'seed')}`]);
    for (const d of ['ctld', 'd']) mkdirSync(join(dir, 'spool', d), { recursive: true });
    const host = hostname().split('.')[0]!;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = join(dir, 'slurm.conf');
    writeFileSync(conf, [
      'ClusterName=rdpvtest', `SlurmctldHost=${host}`, 'SlurmUser=root', 'SlurmdUser=root', 'AuthType=auth/munge', `AuthInfo=socket=${socket}`,
      'CredType=cred/munge', 'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
      'JobAcctGatherType=jobacct_gather/none', 'ReturnToService=2', 'MpiDefault=none', `SlurmctldPort=${port}`, `SlurmdPort=${port + 1}`,
      `StateSaveLocation=${join(dir, 'spool', 'ctld')}`, `SlurmdSpoolDir=${join(dir, 'spool', 'd')}`, `SlurmctldPidFile=${join(dir, 'ctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'd.pid')}`, `SlurmctldLogFile=${join(dir, 'ctld.log')}`, `SlurmdLogFile=${join(dir, 'd.log')}`,
      // Three CPUs whatever the machine has, so that the three shards run at once and one waits for another's model.
      'SlurmdParameters=config_overrides', `NodeName=${host} CPUs=${Math.max(3, cpus().length)} RealMemory=2000 State=UNKNOWN`, 'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP', '',
    ].join('\n'));
    const env = { ...process.env, SLURM_CONF: conf };
    await sleep(500);
    start('slurmctld', ['-D', '-f', conf]);
    start('slurmd', ['-D', '-f', conf]);
    for (let t = 0; ; t++) {
      const state = spawnSync(bin('sinfo'), ['-h', '-o', '%t'], { env }).stdout?.toString().trim();
      if (state === 'idle') break;
      if (t > 120) throw new Error(`the Slurm node did not come up (sinfo: '${state}'); see ${dir}`);
      await sleep(500);
    }
    return { env, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

type Event = { time: string; event: string; job?: string; for?: string };
const events = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Event);
const started = (path: string) => events(path).filter((e) => e.event === 'start').map((e) => e.job!);
const numbers = (t: Table1) => t.cells.map(({ cell, R1, R2, mmse, fmd, jd, factor_of_two, per_seed }) => ({ cell, R1, R2, mmse, fmd, jd, factor_of_two, per_seed }));

test('a Slurm array job of 3 shards of the tiny grid, merged, gives the table of one run', { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdpv-slurm-'));
  const runs = join(dir, 'runs');
  const results = join(dir, 'results');
  const flags = ['--tiny', '--samples', '4', '--dither-seeds', '2', '--threads', '1'];
  const slurm = await startSlurm(dir);
  try {
    // The shipped batch file (docs/cluster.md), as a user submits it from the checkout, on the tiny grid.
    const script = join(ROOT, 'examples', 'cluster', 'table1.sbatch');
    const env = { ...slurm.env, PATH: `${dirname(process.execPath)}:${slurm.env.PATH ?? process.env.PATH}`, RDPV_RUNS: runs, RDPV_RESULTS: results, RDPV_FLAGS: [...flags, '--poll', '0.5'].join(' ') };
    const sb = spawnSync(bin('sbatch'), ['--wait', '--array=0-2', `--output=${join(dir, 'shard-%a.out')}`, script], { cwd: ROOT, env, encoding: 'utf8', timeout: 500_000 });
    const outputs = [0, 1, 2].map((i) => { try { return readFileSync(join(dir, `shard-${i}.out`), 'utf8'); } catch { return '(no output)'; } });
    assert.equal(sb.status, 0, `sbatch: ${sb.stdout}${sb.stderr}\n${outputs.join('\n----\n')}`);
  } finally {
    await slurm.stop();
  }
  const logs = [0, 1, 2].map((i) => started(join(results, `table1.shard-${i}-of-3.log.jsonl`)));
  assert.deepEqual(logs.flat().sort(), table1Grid(table1Cells(true), false).jobs.map((j) => j.id).sort(), 'each job ran exactly once over the 3 shards');
  // tiny-pframe-12-inf-perception (shard 2) starts from tiny-perception (shard 1): never before it was done.
  const log = (i: number) => events(join(results, `table1.shard-${i}-of-3.log.jsonl`));
  const done = log(1).find((e) => e.event === 'done' && e.job === 'tiny-perception')!;
  const start = log(2).find((e) => e.event === 'start' && e.job === 'tiny-pframe-12-inf-perception')!;
  assert.ok(Date.parse(start.time) >= Date.parse(done.time), `${start.time} < ${done.time}`);
  if (!log(2).some((e) => e.event === 'wait' && e.for === 'tiny-perception')) console.log('# (shard 2/3 started after tiny-perception was done: no wait this time)');
  const merged = await runCli(['repro', 'merge', results, '--results', results]);
  assert.equal(merged.code, 0, merged.err.join('\n'));
  const one = join(dir, 'one');
  const single = await runCli(['repro', 'table1', ...flags, '--runs', join(one, 'runs'), '--results', one]);
  assert.equal(single.code, 0, single.err.join('\n'));
  const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Table1;
  assert.deepEqual(numbers(read(join(results, 'table1.json'))), numbers(read(join(one, 'table1.json'))));
});
