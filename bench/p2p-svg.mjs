// The p2p matrix as an SVG picture, for bench/p2p-matrix.mjs.

const ms = (x) => (x === null ? '—' : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);

/** The matrix as a picture: one square per pair (mirrored), green by technique, grey for relay-needed, red for a failed prediction. */
export function renderSvg(cells, { presets: PRESETS, runs: RUNS }) {
  const SHORT = {
    'open-internet': 'open internet',
    'firewall-only': 'firewall only',
    'full-cone': 'full cone',
    'restricted-cone': 'restricted cone',
    'port-restricted-cone': 'port-restricted',
    'address-dependent-mapping': 'addr-dep. mapping',
    symmetric: 'symmetric random',
    'symmetric-sequential': 'symmetric seq.',
  };
  const FILL = { 'simultaneous-open': '#2e7d32', 'port-prediction': '#66bb6a', birthday: '#a5d6a7', relay: '#bdbdbd', failed: '#e53935' };
  const INK = { 'simultaneous-open': '#ffffff', 'port-prediction': '#0b3d0e', birthday: '#0b3d0e', relay: '#303030', failed: '#ffffff' };
  const size = 112;
  const left = 150;
  const top = 170;
  const n = PRESETS.length;
  const width = left + n * size + 110;
  const height = top + n * size + 110;
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="28" font-size="18" font-weight="bold">natscope p2p: direct path between two lab NATs (${RUNS} runs per pair)</text>`,
    `<text x="${left}" y="50" font-size="12" fill="#444">each square: the technique natscope used, its success rate and median time to a two-way direct path;</text>`,
    `<text x="${left}" y="66" font-size="12" fill="#444">last line: the naive method's success rate (both send to the other's server-reflexive address every 100 ms)</text>`,
  ];
  PRESETS.forEach((p, k) => {
    out.push(`<text x="${left - 8}" y="${top + k * size + size / 2 + 4}" font-size="12" text-anchor="end">${esc(SHORT[p])}</text>`);
    const x = left + k * size + size / 2;
    out.push(`<text x="${x}" y="${top - 8}" font-size="12" text-anchor="start" transform="rotate(-40 ${x} ${top - 8})">${esc(SHORT[p])}</text>`);
  });
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      const cell = cells.find((c) => (c.preset === PRESETS[i] && c.peerPreset === PRESETS[j]) || (c.preset === PRESETS[j] && c.peerPreset === PRESETS[i]));
      if (cell === undefined) continue;
      const kind = cell.held < RUNS ? 'failed' : cell.predicted === 'relay-needed' ? 'relay' : (cell.technique ?? 'failed');
      const x = left + j * size;
      const y = top + i * size;
      const label = kind === 'relay' ? 'relay needed' : kind === 'failed' ? `held ${cell.held}/${RUNS}` : kind.replace('-', ' ');
      const lines = kind === 'relay' ? [label, 'as predicted', ''] : [label, `${Math.round((100 * cell.success) / RUNS)}% ${cell.medianMs === null ? '' : ms(cell.medianMs)}`, ''];
      lines[2] = `naive ${Math.round((100 * cell.naiveSuccess) / RUNS)}%`;
      out.push(`<rect x="${x + 1}" y="${y + 1}" width="${size - 2}" height="${size - 2}" rx="4" fill="${FILL[kind] ?? FILL.failed}"/>`);
      lines.forEach((line, k) => {
        out.push(`<text x="${x + size / 2}" y="${y + 30 + k * 20}" font-size="${k === 0 ? 11 : 12}" text-anchor="middle" fill="${INK[kind] ?? '#fff'}">${esc(line)}</text>`);
      });
    }
  }
  const legend = [
    ['simultaneous-open', 'simultaneous open'],
    ['port-prediction', 'port prediction'],
    ['birthday', 'birthday'],
    ['relay', 'relay needed (as predicted)'],
    ['failed', 'prediction failed'],
  ];
  let lx = left;
  const ly = top + n * size + 30;
  for (const [kind, text] of legend) {
    out.push(`<rect x="${lx}" y="${ly}" width="16" height="16" rx="3" fill="${FILL[kind]}"/>`);
    out.push(`<text x="${lx + 22}" y="${ly + 13}" font-size="12">${esc(text)}</text>`);
    lx += 30 + text.length * 7;
  }
  out.push(`<text x="${left}" y="${ly + 45}" font-size="11" fill="#444">natscope lab (Linux netfilter in network namespaces); npm run bench:p2p -- --runs ${RUNS}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
