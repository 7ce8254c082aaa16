/**
 * The fleet bench's plot: change → every agent lag against fleet size, as an SVG written by
 * the bench itself (no plotting dependency). Log scales on both axes: fleets grow by tens and
 * lags span milliseconds to seconds.
 */
export interface PlotRow {
  readonly agents: number;
  readonly lone: { readonly lag_ms: { readonly p50: number; readonly p99: number } };
  readonly sustained: { readonly offered_per_s: number; readonly lag_ms: { readonly p50: number; readonly p99: number } };
}

const W = 640;
const H = 400;
const M = { l: 70, r: 190, t: 40, b: 50 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export function fleetSvg(rows: readonly PlotRow[], baseline: readonly PlotRow[] = [], title = 'dnssync: change → every agent, lag against fleet size'): string {
  const xs = rows.map((r) => r.agents);
  const ys = [...rows, ...baseline].flatMap((r) => [r.lone.lag_ms.p50, r.lone.lag_ms.p99, r.sustained.lag_ms.p50, r.sustained.lag_ms.p99]).filter((y) => Number.isFinite(y) && y > 0);
  const x0 = Math.log10(Math.min(...xs, 100) / 1.5);
  const x1 = Math.log10(Math.max(...xs, 5000) * 1.5);
  const y0 = Math.floor(Math.log10(Math.min(...ys, 1)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys, 1000) * 1.2));
  const px = (x: number): number => M.l + ((Math.log10(x) - x0) / (x1 - x0)) * (W - M.l - M.r);
  const py = (y: number): number => H - M.b - ((Math.log10(Math.max(y, 10 ** y0)) - y0) / (y1 - y0)) * (H - M.t - M.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${M.l}" y1="${y}" x2="${W - M.r}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${10 ** e >= 1 ? (10 ** e).toLocaleString('en') : 10 ** e} ms</text>`);
  }
  for (const x of xs) {
    out.push(`<line x1="${px(x)}" y1="${M.t}" x2="${px(x)}" y2="${H - M.b}" stroke="#eee"/>`);
    out.push(`<text x="${px(x)}" y="${H - M.b + 18}" text-anchor="middle">${x.toLocaleString('en')}</text>`);
  }
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">agents</text>`);
  out.push(`<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="black"/><line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="black"/>`);
  // The goal: p99 within one second at 5,000 agents.
  out.push(`<line x1="${M.l}" y1="${py(1000)}" x2="${W - M.r}" y2="${py(1000)}" stroke="#c00" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${W - M.r + 4}" y="${py(1000) + 4}" fill="#c00">goal: p99 ≤ 1 s</text>`);
  const series: { name: string; color: string; dash: string; get: (r: PlotRow) => number }[] = [
    { name: 'lone change p50', color: '#1f77b4', dash: '4 3', get: (r) => r.lone.lag_ms.p50 },
    { name: 'lone change p99', color: '#1f77b4', dash: '', get: (r) => r.lone.lag_ms.p99 },
    { name: 'sustained feed p50', color: '#ff7f0e', dash: '4 3', get: (r) => r.sustained.lag_ms.p50 },
    { name: 'sustained feed p99', color: '#ff7f0e', dash: '', get: (r) => r.sustained.lag_ms.p99 },
  ];
  // The same run without push streams (datagrams only), for comparison.
  if (baseline.length > 0) series.push({ name: 'feed p99, datagrams only', color: '#888', dash: '2 2', get: (r) => r.sustained.lag_ms.p99 });
  series.forEach((s, k) => {
    const from = k === 4 ? baseline : rows;
    const pts = from.filter((r) => Number.isFinite(s.get(r))).map((r) => `${px(r.agents).toFixed(1)},${py(s.get(r)).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [x, y] = p.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.t + 20 + k * 20;
    out.push(`<line x1="${W - M.r + 4}" y1="${ly}" x2="${W - M.r + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    out.push(`<text x="${W - M.r + 32}" y="${ly + 4}">${esc(s.name)}</text>`);
  });

  out.push(`<text x="${W - M.r + 4}" y="${M.t + 140}" font-size="10">sustained feed offered</text>`);
  rows.forEach((r, k) => out.push(`<text x="${W - M.r + 4}" y="${M.t + 154 + k * 13}" font-size="10">${r.agents.toLocaleString('en')} agents: ${r.sustained.offered_per_s} changes/s</text>`));

  out.push('</svg>');
  return out.join('\n') + '\n';
}
