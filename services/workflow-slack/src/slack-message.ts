import { lifecycleDefinition, type WorkItem } from '@patchflow/contracts';

export interface SlackMessage {
  /** Shown in notifications and by clients that cannot render blocks; parsed as mrkdwn. */
  text: string;
  blocks: unknown[];
}

const statusLabel = (name: string) => lifecycleDefinition.statuses.find((s) => s.name === name)?.label ?? name;
const actionLabel = (name: string) => lifecycleDefinition.actions.find((a) => a.name === name)?.label ?? name;

/**
 * Slack parses `&`, `<` and `>` in mrkdwn (the top-level `text` included) as control characters:
 * `<!channel>` pings a whole channel, `<https://x|y>` is a link. Every user-controlled value that
 * goes into mrkdwn is escaped to `&amp;`, `&lt;`, `&gt;` (only these three: Slack decodes nothing
 * else). `&` first, so the entities written for `<` and `>` are not escaped again.
 */
export const escapeMrkdwn = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A mrkdwn text object; `text` must already be escaped (it carries our own formatting). */
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });
/**
 * A plain_text object: Slack shows it literally (no mentions, no links, entities not decoded), so
 * it takes the raw value — escaping it would show `&lt;` to the reader.
 */
const plainText = (text: string) => ({ type: 'plain_text', text, emoji: false });

/** Slack refuses a header longer than 150 characters. */
const HEADER_MAX = 150;

/** The post for one transition: the patch, from → to, the action and who did it. */
export function transitionMessage(work: WorkItem): SlackMessage {
  const { patch, transition: t } = work;
  const title = `${patch.product} ${patch.name}`;
  const move = `${statusLabel(t.fromStatus)} → ${statusLabel(t.toStatus)}`;
  const e = escapeMrkdwn;
  const text = `${e(title)}: ${e(move)} (${e(actionLabel(t.action))} by ${e(t.actor)})`;
  const fields = [
    mrkdwn(`*Patch*\n${e(title)}`),
    mrkdwn(`*Status*\n${e(move)}`),
    mrkdwn(`*Action*\n${e(actionLabel(t.action))} (\`${e(t.action)}\`)`),
    mrkdwn(`*Actor*\n${e(t.actor)}`),
  ];
  const chars = [...title];
  const header = chars.length > HEADER_MAX ? `${chars.slice(0, HEADER_MAX - 1).join('')}…` : title;
  const blocks: unknown[] = [
    { type: 'header', text: plainText(header) },
    { type: 'section', text: mrkdwn(`*${e(title)}* moved to *${e(statusLabel(t.toStatus))}*`) },
    { type: 'section', fields },
  ];
  if (t.reason) blocks.push({ type: 'section', text: mrkdwn(`*Reason*\n${e(t.reason)}`) });
  blocks.push({ type: 'context', elements: [mrkdwn(`patch ${e(patch.id)} · work ${e(work.workId)}`)] });
  return { text, blocks };
}
