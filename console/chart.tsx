import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const PALETTE = ['#2f6fdf', '#e0662c', '#2a9d5b', '#b23bb5', '#c9a227', '#1aa3b3', '#d8404e', '#6c6f7a', '#7a5cff', '#8b5a2b'];

export interface Series {
  label: string;
  values: Array<number | null>;
}

/** A time chart (uPlot): x in epoch ms, one line per series. */
export function TimeChart({ times, series, title, height = 220 }: { times: number[]; series: Series[]; title: string; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current;
    if (box === null) return;
    const width = Math.max(280, box.clientWidth || 600);
    const opts: uPlot.Options = {
      title,
      width,
      height,
      scales: { x: { time: true } },
      axes: [
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.2)' } },
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.2)' } },
      ],
      series: [
        {},
        ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false, points: { show: true, size: 4 } })),
      ],
    };
    const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, box);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, box.clientWidth), height }));
    ro.observe(box);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [JSON.stringify(times), JSON.stringify(series), title]);
  return <div class="chart" ref={el} role="img" aria-label={`chart: ${title}`} />;
}
