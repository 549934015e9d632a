// SPDX-License-Identifier: MIT
// The console's pure helpers (console.js): no DOM, no D-Bus, no noVNC, so
// tests/unit/cockpit-console-js.mjs loads them under node.

// What the console can show for a VM's properties: "none" (no display),
// "off" (does not run), "waiting" (its display server is starting),
// "ready". Pure, for the unit test.
export function consoleState(vmProps, displayProps) {
    const d = displayProps || {};
    if (!d.Enabled)
        return "none";
    const s = (vmProps || {}).State;
    if (s !== "Running" && s !== "Paused")
        return "off";
    return d.ServerRunning && d.VncSocket ? "ready" : "waiting";
}

// The WebSocket URL of a Cockpit stream channel that runs vmctl relaying
// the VM's VNC connection (cockpit-ws's external channels:
// /cockpit/channel/<csrf token>?<base64 of the open options>).
export function channelUrl(base, csrf, vmId) {
    const open = { payload: "stream", binary: "raw", spawn: ["vmctl", "display", "--stdio", vmId], err: "message" };
    return `${base}/${csrf}?${btoa(JSON.stringify(open))}`;
}
