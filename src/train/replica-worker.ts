/**
 * One data-parallel replica (parallel.ts starts it): its own engine and trainer over its rows of
 * every batch. Messages: { state } loads the run's state and answers { ready }; { step } trains one
 * step and answers the whole batch's losses; { save } answers the state (identical in every replica).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine, tf } from '../engine/index.ts';
import { assignGroups, groupArrays, type GroupArrays, type ReplicaReply, type ReplicaWorkerData } from './parallel.ts';
import { sourceFor } from './presets.ts';
import { AllReduce, replicaRows } from './replica.ts';
import { TRAINERS } from './trainer.ts';

const { config, index, buffer, backend, threads } = workerData as ReplicaWorkerData;
const count = config.replicas!;
await initEngine({ backend, threads });
const reducer = new AllReduce(buffer, index, count, replicaRows(config.batch, index, count).n / config.batch);
const trainer = TRAINERS[config.model.kind](config, sourceFor(config), { index, count, reduce: (ts) => reducer.reduce(ts) });
const reply = (r: ReplicaReply) => parentPort!.postMessage(r);

parentPort!.on('message', (m: { state?: GroupArrays; step?: number; save?: true }) => {
  if (m.state) {
    assignGroups(trainer.checkpointGroups(), m.state, 'the run state');
    reply({ ready: true });
  } else if (m.step !== undefined) {
    const losses = trainer.step(m.step) as Record<string, tf.Scalar>;
    const names = Object.keys(losses);
    const whole = reducer.reduce(names.map((k) => losses[k]!));
    reply({ losses: Object.fromEntries(names.map((k, i) => [k, whole[i]!.dataSync()[0]!])) });
    tf.dispose([...Object.values(losses), ...whole]);
  } else if (m.save) {
    reply({ state: groupArrays(trainer.checkpointGroups()) });
  }
});
