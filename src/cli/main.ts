#!/usr/bin/env node
/**
 * `dnssync <subcommand>`: dispatch only. Each subcommand module exports `run(argv)`, which
 * parses its flags, wires its parts and resolves when the process should exit.
 */
import { FlagError } from './flags.js';
import { reexecWithV8Defaults } from '../agent/v8-defaults.js';

type Runner = (argv: string[]) => Promise<void>;

const commands: Record<string, { summary: string; load: () => Promise<Runner> }> = {
  agent: { summary: 'node-local DNS server: authoritative for synced zones, forwarding cache for the rest', load: async () => (await import('./agent.js')).run },
  primary: { summary: 'the sync engine alone: serve a zone file and push its changes', load: async () => (await import('./primary.js')).run },
  controller: { summary: 'the operator: DNSRecord/DNSZone objects pushed to every agent', load: async () => (await import('./controller.js')).run },
  'socket-keeper': { summary: "holds the agent's DNS sockets in a container of their own, across a crash of the agent's container", load: async () => (await import('./socket-keeper.js')).run },
  status: { summary: "each zone's serial and the agents behind it, from the DNSZones' status (kubeconfig as kubectl)", load: async () => (await import('./status.js')).run },
};

function help(): string {
  return ['usage: dnssync <command> [flags]', '', ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(11)} ${c.summary}`), '', 'dnssync <command> --help lists its flags.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`dnssync: unknown command '${name}'\n`);
    return 2;
  }
  // The agent's heap settings can only be set as the process starts (see v8-defaults.ts):
  // re-execute before loading anything else.
  if (name === 'agent') reexecWithV8Defaults();
  try {
    const run = await cmd.load();
    await run(rest);
    // A subcommand may set its own exit code (the agent's supervisor passes its child's on).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`dnssync ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`dnssync: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
