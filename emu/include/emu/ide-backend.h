/* SPDX-License-Identifier: MIT */
/* The IDE controller's disk I/O on the service thread: one io_uring
 * (the disk library's queue) for both channels, at most one request per
 * channel in flight. */
#pragma once

struct ide_controller;
struct emu_service;
struct ide_backend;

/* Creates the queue (the io_uring, its eventfd) and hooks it into the
 * service: requests are taken after every wake-up, completions reaped when
 * the eventfd fires; at the service's exit the queue is drained and freed
 * and the controller's disks released, on that thread. */
int ide_backend_attach(struct ide_controller *c, struct emu_service *s, struct ide_backend **out);
