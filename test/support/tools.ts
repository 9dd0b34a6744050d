/** System tools some tests need; without them those tests skip with a message. */
import { spawnSync } from 'node:child_process';

/** ffmpeg and ffprobe on PATH (video input and output, the KTH loader). */
export const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
