// SPDX-License-Identifier: MIT
// Named D-Bus errors (docs/dbus-api.md "Errors") and Cockpit's own channel
// problems as sentences a person understands. Pure: no DOM, no D-Bus.

const VMSTACK = {
    "org.vmstack.Error.NoSuchVM": "The virtual machine no longer exists.",
    "org.vmstack.Error.InvalidConfig": "The configuration was refused.",
    "org.vmstack.Error.InvalidArgument": "A value was refused.",
    "org.vmstack.Error.InvalidState": "This is not possible in the VM's present state.",
    "org.vmstack.Error.PermissionDenied": "You are not allowed to do this.",
    "org.vmstack.Error.LimitExceeded": "A limit of this host was reached.",
    "org.vmstack.Error.Exists": "That name or resource is taken.",
    "org.vmstack.Error.Busy": "The VM is busy with another operation; try again when it is done.",
    "org.vmstack.Error.Failed": "The operation failed.",
};

// Cockpit channel problems (cockpit.js "problem" codes) and the bus's own.
const OTHER = {
    "not-found": "The vmstack service (vmms) is not running on this host.",
    "org.freedesktop.DBus.Error.ServiceUnknown": "The vmstack service (vmms) is not running on this host.",
    "org.freedesktop.DBus.Error.NameHasNoOwner": "The vmstack service (vmms) is not running on this host.",
    "access-denied": "You are not allowed to do this.",
    "org.freedesktop.DBus.Error.AccessDenied": "You are not allowed to do this.",
    "authentication-failed": "Your login is no longer valid; log in again.",
    disconnected: "The connection to the host was lost.",
    terminated: "The connection to the host was closed.",
    timeout: "The host did not answer in time.",
    "org.freedesktop.DBus.Error.NoReply": "vmms did not answer in time; the operation may still be going on.",
    "org.freedesktop.DBus.Error.UnknownObject": "The virtual machine no longer exists.",
    "org.freedesktop.DBus.Error.UnknownMethod": "This vmms does not offer that operation (an older version?).",
};

// describeError(err) -> { summary, detail, name }: summary is one sentence
// for the error's kind, detail vmms's own message (which names the field,
// the state, the limit or what to do), name the D-Bus error name.
export function describeError(err) {
    const name = (err && (err.name || err.problem)) || "";
    const message = err && typeof err.message === "string" ? err.message : String(err || "");
    const summary = VMSTACK[name] || OTHER[name] || OTHER[err && err.problem] ||
        (name.startsWith("org.vmstack.Error.") ? "The operation failed." : "Something went wrong.");
    const detail = message && message !== name && message !== summary ? message : "";
    return { summary, detail, name };
}
