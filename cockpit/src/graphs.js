// SPDX-License-Identifier: MIT
// A VM's graphs (CPU, disk, network, memory over the last 5 minutes) from
// metering's GetMetrics (docs/metering.md), asked every 2 s while the
// details page is on the screen and the VM has a worker, never otherwise,
// after one GetMetricsHistory (vmms's own samples of the last 5 minutes)
// when a VM's page opens, so that its graphs start with what came before;
// drawn as plain SVG polylines (no charting library). And the list's CPU
// column: one GetAllMetrics (every VM's figures at once) every 5 s while
// the list is on the screen.
import { h, replace } from "./dom.js";
import { formatBytes, isActive } from "./format.js";
import { parseMetrics, parseAllMetrics, parseMetricsList, historyPoints, graphPoint, rates, niceMax, formatPercent, formatRate, polylinePoints } from "./metrics.js";
import { IF_VM, IF_MANAGER } from "./model.js";

export const IF_METERING = "org.vmstack.VMMS1.Metering";
const POLL_MS = 2000;
const LIST_POLL_MS = 5000;
const WINDOW_MS = 5 * 60 * 1000;
const W = 300, H = 80;
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["blue", "orange", "green", "purple", "teal", "gold", "red", "black"];
const MAX_VCPU_LINES = 8;

function svg(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs))
        el.setAttribute(k, String(v));
    return el;
}

// The charts: what each shows, its series, how a value reads.
const CHARTS = [
    { id: "cpu", title: "CPU", fmt: formatPercent, floor: 1, series: [{ key: "cpu", label: "all vCPUs" }] },
    { id: "disk", title: "Disk", fmt: formatRate, floor: 1000, series: [{ key: "diskR", label: "read" }, { key: "diskW", label: "write" }] },
    { id: "net", title: "Network", fmt: formatRate, floor: 1000, series: [{ key: "netRx", label: "received" }, { key: "netTx", label: "sent" }] },
    { id: "mem", title: "Memory", fmt: formatBytes, floor: 1048576, series: [{ key: "memAssigned", label: "assigned" }, { key: "memDemand", label: "demand" }] },
];

async function getMetrics(model, vm) {
    const [text] = await model.call(vm.path, IF_METERING, "GetMetrics", [], "");
    return parseMetrics(text);
}

export class Graphs {
    constructor(model) {
        this.model = model;
        this.vm = null;
        this.timer = null;
        this.inFlight = false;
        this.history = [];
        this.prev = null;
        this.body = h("div", { class: "vmstack-graphs" });
        this.status = h("p", { class: "vmstack-graphs-status", role: "status" });
        this.el = h("section", { class: "pf-v6-c-card vmstack-graphs-card", "aria-label": "Performance" },
                    h("div", { class: "pf-v6-c-card__title" }, h("h2", { class: "pf-v6-c-card__title-text" }, "Performance")),
                    h("div", { class: "pf-v6-c-card__body" }, this.status, this.body));
        this.charts = CHARTS.map(c => this.makeChart(c));
        replace(this.body, this.charts.map(c => c.el));
        document.addEventListener("visibilitychange", () => this.schedule(0));
    }

    makeChart(def) {
        const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "vmstack-graph-svg",
            role: "img", "aria-label": `${def.title}, the last 5 minutes`, "data-graph": def.id });
        for (const y of [0, H / 2])
            plot.append(svg("line", { x1: 0, x2: W, y1: y + 0.5, y2: y + 0.5, class: "vmstack-graph-grid" }));
        const top = h("span", { class: "vmstack-graph-top" });
        const legend = h("ul", { class: "vmstack-graph-legend" });
        const el = h("figure", { class: "vmstack-graph", "data-chart": def.id },
                     h("figcaption", { class: "vmstack-graph-title" }, h("strong", {}, def.title), top),
                     plot, legend);
        return { def, el, plot, top, legend, lines: [] };
    }

    // The details page shows this VM (or none): a new history.
    show(vm) {
        if (vm !== this.vm) {
            this.vm = vm;
            this.history = [];
            this.prev = null;
            this.historyOf = null; // whose GetMetricsHistory was asked
            this.clear(); // not the last VM's lines under this one's name
        }
        this.schedule(0);
    }

    // Called when the VM's properties change: a VM that starts is polled,
    // one that stopped no longer.
    vmChanged() {
        if (this.vm && (!isActive(this.vm.props[IF_VM].State) || (!this.timer && !this.inFlight)))
            this.schedule(0);
    }

    active() {
        return this.vm && this.el.isConnected && !document.hidden && isActive(this.vm.props[IF_VM].State);
    }

    schedule(ms) {
        clearTimeout(this.timer);
        this.timer = null;
        if (!this.vm || !this.el.isConnected)
            return;
        if (!isActive(this.vm.props[IF_VM].State)) {
            this.status.textContent = this.history.length ? "The VM does not run: the graphs stopped." : "The VM does not run: no figures.";
            this.status.hidden = false;
            this.prev = null;
            return;
        }
        if (!document.hidden)
            this.timer = setTimeout(() => this.poll(), ms);
    }

    async poll() {
        this.timer = null;
        if (!this.active() || this.inFlight)
            return;
        const vm = this.vm;
        this.inFlight = true;
        try {
            if (this.historyOf !== vm)
                await this.loadHistory(vm);
            const s = await getMetrics(this.model, vm);
            if (vm === this.vm && s) {
                const r = rates(this.prev, s);
                this.prev = s;
                const now = Date.now();
                this.history.push(graphPoint(r, now));
                while (this.history.length && this.history[0].t < now - WINDOW_MS)
                    this.history.shift();
                this.status.hidden = true;
                this.draw(now);
            }
        } catch (err) {
            // A VM that stopped between the state and the call, or a worker
            // that did not answer: said in the card, asked again later.
            if (vm === this.vm) {
                this.status.textContent = `No figures: ${err.message || err.name || err}`;
                this.status.hidden = false;
            }
        }
        this.inFlight = false;
        if (vm === this.vm)
            this.schedule(POLL_MS);
    }

    // vmms's samples of the last 5 minutes as the graphs' first points, the
    // newest the base of the first rates the page takes itself. A vmms
    // without the call (older) or that fails it: the graphs start empty.
    async loadHistory(vm) {
        this.historyOf = vm;
        let text;
        try {
            [text] = await this.model.call(vm.path, IF_METERING, "GetMetricsHistory", [], "");
        } catch (err) {
            console.info("vmstack: metering history unavailable:", err.message);
            return;
        }
        if (vm !== this.vm)
            return;
        const samples = parseMetricsList(text);
        const now = Date.now();
        this.history = historyPoints(samples, this.model.clockSkewUs || 0).filter(p => p.t >= now - WINDOW_MS && p.t <= now);
        this.prev = samples.length ? samples[samples.length - 1] : null;
    }

    clear() {
        for (const c of this.charts) {
            while (c.lines.length)
                c.lines.pop().remove();
            c.top.textContent = "";
            replace(c.legend);
        }
    }

    seriesOf(chart) {
        const last = this.history[this.history.length - 1];
        const out = chart.def.series.slice();
        if (chart.def.id === "cpu" && last && last.vcpus.length > 1 && last.vcpus.length <= MAX_VCPU_LINES)
            last.vcpus.forEach((v, i) => out.push({ key: `vcpu${i}`, label: `vCPU ${i}`, thin: true }));
        return out;
    }

    draw(now) {
        const last = this.history[this.history.length - 1];
        for (const c of this.charts) {
            const series = this.seriesOf(c);
            const top = c.def.id === "cpu" ? Math.min(100, niceMax(this.history.map(p => p.cpu).concat(
                this.history.flatMap(p => p.vcpus)), c.def.floor))
                : niceMax(this.history.flatMap(p => series.map(s => p[s.key])), c.def.floor);
            c.top.textContent = ` (scale: ${c.def.fmt(top)})`;
            while (c.lines.length > series.length)
                c.lines.pop().remove();
            series.forEach((s, i) => {
                if (!c.lines[i]) {
                    c.lines[i] = svg("polyline", { fill: "none", "vector-effect": "non-scaling-stroke" });
                    c.plot.append(c.lines[i]);
                }
                const color = s.thin ? COLORS[(i + 1) % COLORS.length] : COLORS[i];
                c.lines[i].setAttribute("class", `vmstack-graph-line vmstack-color-${color}${s.thin ? " vmstack-graph-thin" : ""}`);
                c.lines[i].setAttribute("data-series", s.key);
                c.lines[i].setAttribute("points", polylinePoints(this.history, s.key, now, WINDOW_MS, W, H, top));
            });
            replace(c.legend, series.map((s, i) => h("li", { "data-series": s.key },
                h("span", { class: `vmstack-swatch vmstack-color-${s.thin ? COLORS[(i + 1) % COLORS.length] : COLORS[i]}`, "aria-hidden": "true" }),
                `${s.label}: `, h("span", { class: "vmstack-graph-value" }, c.def.fmt(last[s.key] ?? 0)))));
        }
    }
}

// The list's CPU column: every 5 s while the list is on the screen, one
// GetAllMetrics (vmms answers from its own sampling rounds, asking no
// worker), the use between this and the last answer of each VM with a
// worker.
export class ListCpu {
    constructor(model, onValue, visible) {
        this.model = model;
        this.onValue = onValue; // onValue(path, percent or null)
        this.visible = visible; // () => whether the list is on the screen
        this.prev = new Map(); // path -> sample
        this.value = new Map(); // path -> percent
        setInterval(() => this.poll(), LIST_POLL_MS);
        document.addEventListener("visibilitychange", () => this.poll());
    }

    async poll() {
        if (this.busy || document.hidden || !this.visible() || this.model.service !== "up")
            return;
        this.busy = true;
        const vms = [...this.model.vms.values()].filter(vm => isActive(vm.props[IF_VM].State));
        for (const path of [...this.value.keys()])
            if (!vms.some(vm => vm.path === path)) {
                this.value.delete(path);
                this.prev.delete(path);
                this.onValue(path, null);
            }
        try {
            if (vms.length)
                this.update(vms, await this.model.call("/org/vmstack/VMMS1", IF_MANAGER, "GetAllMetrics", [], ""));
        } catch (err) {
            console.info("vmstack: metering unavailable:", err.message);
        }
        this.busy = false;
    }

    update(vms, [text]) {
        const all = parseAllMetrics(text);
        for (const vm of vms) {
            const s = all.get(vm.id);
            if (!s)
                continue;
            const r = rates(this.prev.get(vm.path), s);
            this.prev.set(vm.path, s);
            this.value.set(vm.path, r.cpu);
            this.onValue(vm.path, r.cpu);
        }
    }
}
