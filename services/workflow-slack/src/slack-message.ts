import { lifecycleDefinition, type WorkItem } from '@patchflow/contracts';

export interface SlackMessage {
  /** Shown in notifications and by clients that cannot render blocks. */
  text: string;
  blocks: unknown[];
}

const statusLabel = (name: string) => lifecycleDefinition.statuses.find((s) => s.name === name)?.label ?? name;
const actionLabel = (name: string) => lifecycleDefinition.actions.find((a) => a.name === name)?.label ?? name;

/** Slack's mrkdwn needs &, < and > escaped in user-provided text. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The post for one transition: the patch, from → to, the action and who did it. */
export function transitionMessage(work: WorkItem): SlackMessage {
  const { patch, transition: t } = work;
  const title = `${patch.product} ${patch.name}`;
  const move = `${statusLabel(t.fromStatus)} → ${statusLabel(t.toStatus)}`;
  const text = `${title}: ${move} (${actionLabel(t.action)} by ${t.actor})`;
  const fields = [
    { type: 'mrkdwn', text: `*Patch*\n${esc(title)}` },
    { type: 'mrkdwn', text: `*Status*\n${esc(move)}` },
    { type: 'mrkdwn', text: `*Action*\n${esc(actionLabel(t.action))} (\`${t.action}\`)` },
    { type: 'mrkdwn', text: `*Actor*\n${esc(t.actor)}` },
  ];
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${esc(title)}* moved to *${esc(statusLabel(t.toStatus))}*` } },
    { type: 'section', fields },
  ];
  if (t.reason) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Reason*\n${esc(t.reason)}` } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `patch ${patch.id} · work ${work.workId}` }] });
  return { text, blocks };
}
