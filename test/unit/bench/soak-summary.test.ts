import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSummary } from '../../../bench/lib/summary.ts';

async function soakRows(record: object) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-soak-'));
  try {
    await writeFile(join(dir, 'soak.json'), JSON.stringify(record));
    const rows = (await buildSummary(dir)).filter((r) => r.area === 'Soak');
    return { rss: rows.find((r) => r.ratio.startsWith('RSS'))!, failures: rows.find((r) => r.ratio.startsWith('failures'))! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const record = (ratio: number, failureCount: number) => ({
  tally: { requests: 5000, failureCount },
  rss: { ratio, slopeMiBPerMin: 0.4, samples: [{ s: 60, rssMiB: 1400 }, { s: 660, rssMiB: 1400 * ratio }] },
});

describe('soak rows of the benchmark summary', () => {
  it('passes an RSS drift within 10% and no failures, and says how long and how many requests', async () => {
    const { rss, failures } = await soakRows(record(1.04, 0));
    expect(rss).toMatchObject({ measured: 1.04, pass: true, note: '5000 requests, 11 min; RSS slope 0.4 MiB/min' });
    expect(failures).toMatchObject({ measured: 0, pass: true });
  });

  it('misses on a drift over 10% or any failure', async () => {
    const { rss, failures } = await soakRows(record(1.12, 3));
    expect(rss).toMatchObject({ measured: 1.12, pass: false });
    expect(failures).toMatchObject({ measured: 3, pass: false });
  });
});
