import { lifecycleDefinition, type WorkItem } from '@patchflow/contracts';

const statusLabel = (name: string) => lifecycleDefinition.statuses.find((s) => s.name === name)?.label ?? name;
const actionLabel = (name: string) => lifecycleDefinition.actions.find((a) => a.name === name)?.label ?? name;

/** The comment left on the issue, as an Atlassian Document Format document. */
export function transitionComment(work: WorkItem): { type: 'doc'; version: 1; content: unknown[] } {
  const { patch, transition: t } = work;
  const paragraph = (...content: unknown[]) => ({ type: 'paragraph', content });
  const text = (s: string, strong = false) =>
    strong ? { type: 'text', text: s, marks: [{ type: 'strong' }] } : { type: 'text', text: s };
  const content: unknown[] = [
    paragraph(
      text('Patchflow: '),
      text(`${patch.product} ${patch.name}`, true),
      text(` moved ${statusLabel(t.fromStatus)} → ${statusLabel(t.toStatus)} (${actionLabel(t.action)} by ${t.actor}).`),
    ),
  ];
  if (t.reason) content.push(paragraph(text('Reason: ', true), text(t.reason)));
  return { type: 'doc', version: 1, content };
}
