/** `ferry group list|describe|reset-offsets|delete`. */
import type { Command } from 'commander';
import type { OffsetResetSpec } from '../index.js';
import { clientFrom, parseIntegerOption, UsageError, type GlobalOptions } from './context.js';
import { table } from './topic-commands.js';

interface ResetOptions {
  topic: string;
  partition?: number;
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: number;
  shiftBy?: string;
}

function resetSpec(o: ResetOptions): OffsetResetSpec {
  const given = [o.toEarliest, o.toLatest, o.toDatetime, o.toOffset, o.shiftBy].filter((x) => x !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by');
  if (o.toEarliest) return 'earliest';
  if (o.toLatest) return 'latest';
  if (o.toOffset !== undefined) return { offset: o.toOffset };
  if (o.shiftBy !== undefined) {
    const n = Number(o.shiftBy);
    if (!Number.isSafeInteger(n)) throw new UsageError(`--shift-by takes an integer (negative moves back), got "${o.shiftBy}"`);
    return { shiftBy: n };
  }
  const ms = /^\d+$/.test(o.toDatetime!) ? Number(o.toDatetime) : Date.parse(o.toDatetime!);
  if (!Number.isFinite(ms)) throw new UsageError(`--to-datetime takes an ISO date or epoch milliseconds, got "${o.toDatetime}"`);
  return { timestamp: ms };
}

export function registerGroupCommands(program: Command, globals: () => GlobalOptions): void {
  const group = program.command('group').description('list, describe, reset and delete consumer groups');

  group.command('list').description('every consumer group with its state and member count').action(async () => {
    const ferry = clientFrom(globals());
    try {
      const groups = await ferry.groups.list();
      process.stdout.write(groups.length === 0 ? 'no groups\n' : table([['GROUP', 'STATE', 'MEMBERS', 'ASSIGNOR'], ...groups.map((g) => [g.group, g.state, g.members, g.assignor || '-'])]));
    } finally {
      ferry.close();
    }
  });

  group.command('describe <group>').description('members, assignment, committed offsets and lag per partition').action(async (name: string) => {
    const ferry = clientFrom(globals());
    try {
      const d = await ferry.groups.describe(name);
      process.stdout.write(`group ${name}: ${d.state}, generation ${d.generation}, assignor ${d.assignor || '-'}, ${d.members.length} member(s)\n`);
      const client = new Map(d.members.map((m) => [m.memberId, m.clientId]));
      process.stdout.write(table([
        ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH-WATERMARK', 'LAG', 'LAG-SECONDS', 'MEMBER'],
        ...d.partitions.map((p) => [p.topic, p.partition, p.committedOffset < 0 ? '-' : p.committedOffset, p.highWatermark, p.lagMessages,
          p.lagSeconds.toFixed(1), p.memberId ? `${p.memberId} (${client.get(p.memberId) ?? ''})` : '-']),
      ]));
    } finally {
      ferry.close();
    }
  });

  group.command('reset-offsets <group>')
    .description('set the committed offsets of a topic (the group must have no members)')
    .requiredOption('-t, --topic <topic>', 'the topic whose offsets to set')
    .option('-p, --partition <n>', 'only this partition', parseIntegerOption('--partition', 0))
    .option('--to-earliest', 'the log start')
    .option('--to-latest', 'the high watermark (skip everything)')
    .option('--to-datetime <time>', 'the first record at/after this time (ISO or epoch ms)')
    .option('--to-offset <n>', 'this offset', parseIntegerOption('--to-offset', 0))
    .option('--shift-by <n>', 'move committed offsets by n (negative: back)')
    .action(async (name: string, o: ResetOptions) => {
      const spec = resetSpec(o);
      const ferry = clientFrom(globals());
      try {
        const set = await ferry.groups.resetOffsets(name, o.topic, spec, o.partition === undefined ? undefined : [o.partition]);
        process.stdout.write(table([['TOPIC', 'PARTITION', 'NEW-OFFSET'], ...[...set].map(([p, offset]) => [o.topic, p, offset])]));
      } finally {
        ferry.close();
      }
    });

  group.command('delete <group>').description('delete an empty group and its committed offsets').action(async (name: string) => {
    const ferry = clientFrom(globals());
    try {
      await ferry.groups.delete(name);
      process.stdout.write(`deleted group ${name}\n`);
    } finally {
      ferry.close();
    }
  });
}
