/**
 * Adam over a parameter record. Its moments are a parameter record too, so checkpoints
 * save and restore them with the weights, and `--resume` continues bit for bit.
 */
import { adamUpdate } from '../engine/adam-update.ts';
import { tf } from '../engine/index.ts';
import { constVar, flattenParams, type ParamTree } from '../models/params.ts';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
}

export class Adam {
  readonly vars: [string, tf.Variable][];
  /** Moments keyed by the parameter's dotted name; `t` counts updates (a 1-element variable, so it is checkpointed with them). */
  readonly state: { m: ParamTree; v: ParamTree; t: tf.Variable };

  /**
   * `reduce` (data-parallel training) turns this replica's gradients into the whole batch's, in the
   * order of `vars`, before every update; the identity otherwise.
   */
  constructor(params: ParamTree, readonly config: AdamConfig, private readonly reduce: (ts: tf.Tensor[]) => tf.Tensor[] = (ts) => ts) {
    this.vars = flattenParams(params).filter(([, v]) => v.trainable);
    const zeros = () => Object.fromEntries(this.vars.map(([n, v]) => [n, constVar(v.shape, 0, false)]));
    this.state = { m: zeros(), v: zeros(), t: constVar([], 0, false) };
  }

  variables(): tf.Variable[] {
    return this.vars.map(([, v]) => v);
  }

  /** One update from gradients keyed by variable name (as tf.variableGrads returns them), at lr * lrScale. */
  apply(grads: tf.NamedTensorMap, lrScale = 1): void {
    const { beta1, beta2 } = this.config;
    const lr = this.config.lr * lrScale;
    tf.tidy(() => {
      // The step count and the bias-corrected rate lr * sqrt(1 - beta2^t) / (1 - beta1^t) stay on
      // the device: a GPU backend could hand t back to the host only asynchronously.
      const t = tf.add(this.state.t, 1);
      this.state.t.assign(t);
      const step = tf.div(tf.mul(tf.sqrt(tf.sub(1, tf.pow(beta2, t))), lr), tf.sub(1, tf.pow(beta1, t)));
      const gs = this.reduce(this.vars.map(([name, v]) => {
        const g = grads[v.name];
        if (!g) throw new Error(`no gradient for ${name}`);
        return g;
      }));
      for (const [i, [name, v]] of this.vars.entries()) {
        const m = this.state.m[name] as tf.Variable;
        const s = this.state.v[name] as tf.Variable;
        const next = adamUpdate(v, m, s, gs[i]!, step, { beta1, beta2, eps: 1e-8 });
        m.assign(next.m);
        s.assign(next.v);
        v.assign(next.p);
      }
    });
  }
}
