// SPDX-License-Identifier: MIT
// Metering figures (GetMetrics' JSON, docs/metering.md) as the page's
// graphs and the list's CPU column use them. Pure: no DOM, no D-Bus, so
// tests/unit/cockpit-js.mjs checks it under node.

const num = v => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
const sum = (list, key) => (Array.isArray(list) ? list.reduce((a, x) => a + num(x && x[key]), 0) : 0);

// One GetMetrics document into a sample of totals (and vmms's own rates,
// for when there is no earlier sample of the page's to compare with); null
// for a document that is not one.
export function parseMetrics(text) {
    let d;
    try {
        d = JSON.parse(text);
    } catch {
        return null;
    }
    return metricsSample(d);
}

// GetAllMetrics' JSON (an array of GetMetrics documents) into a Map of
// VM id -> sample; documents that are not one are left out, and an answer
// that is not an array is an empty Map.
export function parseAllMetrics(text) {
    const out = new Map();
    let list;
    try {
        list = JSON.parse(text);
    } catch {
        return out;
    }
    for (const d of Array.isArray(list) ? list : []) {
        const s = metricsSample(d);
        if (s && d && typeof d.id === "string")
            out.set(d.id, s);
    }
    return out;
}

// GetMetricsHistory's JSON (vmms's periodic samples' documents, oldest
// first) into samples in that order; what is not a document is left out,
// an answer that is not an array is none.
export function parseMetricsList(text) {
    let list;
    try {
        list = JSON.parse(text);
    } catch {
        return [];
    }
    return (Array.isArray(list) ? list : []).map(metricsSample).filter(s => s);
}

// A graph's point: the rates r at t (ms on the browser's clock), each
// vCPU's use also under its own key (vcpu0, vcpu1, ...).
export function graphPoint(r, t) {
    const p = { ...r, t };
    r.vcpus.forEach((v, i) => (p[`vcpu${i}`] = v));
    return p;
}

// The graphs' points from a history of samples: the rates between each
// and the one before (vmms's own for the first, or where they do not
// compare), at its time on the browser's clock (skewUs: the browser's
// clock less the host's, model.js learnClock).
export function historyPoints(samples, skewUs = 0) {
    return samples.map((s, i) => graphPoint(rates(i ? samples[i - 1] : null, s), (s.t + skewUs) / 1000));
}

function metricsSample(d) {
    if (!d || typeof d !== "object" || Array.isArray(d) || !d.cpu || typeof d.cpu !== "object")
        return null;
    const vcpus = Array.isArray(d.cpu.vcpus) ? d.cpu.vcpus : [];
    const mem = d.memory || {};
    return {
        t: num(d.sampled_at_us),
        reset: num(d.reset_at_us),
        state: typeof d.state === "string" ? d.state : "",
        cpuNs: num(d.cpu.total_ns),
        vcpuNs: vcpus.map(v => num(v && v.ns)),
        diskR: sum(d.disks, "read_bytes"),
        diskW: sum(d.disks, "write_bytes"),
        netRx: sum(d.nics, "rx_bytes"),
        netTx: sum(d.nics, "tx_bytes"),
        memAssigned: num(mem.assigned_bytes),
        memDemand: num(mem.demand_bytes),
        vmms: {
            cpu: num(d.cpu.use_percent),
            vcpus: vcpus.map(v => num(v && v.use_percent)),
            diskR: sum(d.disks, "read_bytes_per_s"),
            diskW: sum(d.disks, "write_bytes_per_s"),
            netRx: sum(d.nics, "rx_bytes_per_s"),
            netTx: sum(d.nics, "tx_bytes_per_s"),
        },
    };
}

// The rates between two samples of one VM: CPU use in percent (of all its
// vCPUs, and of each), bytes a second. From the page's own two samples
// when they are comparable (the same reset, time moved on, no counter
// went back: a worker restarted in between), else vmms's rates over its
// own window.
export function rates(prev, cur) {
    const ok = prev && cur && prev.reset === cur.reset && cur.t > prev.t &&
        prev.vcpuNs.length === cur.vcpuNs.length &&
        ["cpuNs", "diskR", "diskW", "netRx", "netTx"].every(k => cur[k] >= prev[k]) &&
        cur.vcpuNs.every((v, i) => v >= prev.vcpuNs[i]);
    const base = { memAssigned: cur.memAssigned, memDemand: cur.memDemand };
    if (!ok)
        return { ...base, ...cur.vmms, vcpus: cur.vmms.vcpus.slice() };
    const s = (cur.t - prev.t) / 1e6;
    const pct = ns => Math.min(100, (100 * ns) / (s * 1e9));
    const n = Math.max(1, cur.vcpuNs.length);
    return {
        ...base,
        cpu: Math.min(100, pct(cur.cpuNs - prev.cpuNs) / n),
        vcpus: cur.vcpuNs.map((v, i) => pct(v - prev.vcpuNs[i])),
        diskR: (cur.diskR - prev.diskR) / s,
        diskW: (cur.diskW - prev.diskW) / s,
        netRx: (cur.netRx - prev.netRx) / s,
        netTx: (cur.netTx - prev.netTx) / s,
    };
}

// A graph's top: the smallest of 1, 2, 5 times a power of ten at or above
// the largest value (at least `floor`).
export function niceMax(values, floor = 1) {
    const m = Math.max(floor, ...values.filter(v => Number.isFinite(v)));
    const p = Math.pow(10, Math.floor(Math.log10(m)));
    for (const f of [1, 2, 5, 10])
        if (f * p >= m)
            return f * p;
    return 10 * p;
}

// "12.5 %", "1.2 MB/s" (decimal, as disk and network rates are read).
export function formatPercent(v) {
    return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} %`;
}

export function formatRate(bytesPerS) {
    const units = ["B/s", "kB/s", "MB/s", "GB/s"];
    let v = num(bytesPerS), i = 0;
    while (v >= 1000 && i < units.length - 1) {
        v /= 1000;
        i++;
    }
    return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

// SVG polyline points for one series: samples [{t (ms), v}] over the last
// windowMs before nowMs, scaled into width x height (y grows downwards).
export function polylinePoints(samples, key, nowMs, windowMs, width, height, top) {
    return samples
        .filter(p => p.t >= nowMs - windowMs && Number.isFinite(p[key]))
        .map(p => {
            const x = ((p.t - (nowMs - windowMs)) / windowMs) * width;
            const y = height - (Math.min(p[key], top) / top) * height;
            return `${x.toFixed(1)},${y.toFixed(1)}`;
        })
        .join(" ");
}
