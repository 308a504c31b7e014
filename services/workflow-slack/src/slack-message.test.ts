import { describe, expect, it } from 'vitest';
import { buildWorkItem, slackControlSequences } from '@patchflow/testing';
import { escapeMrkdwn, transitionMessage } from './slack-message.js';

type TextObject = { type: string; text: string };
const textObjects = (blocks: unknown[]): TextObject[] => {
  const found: TextObject[] = [];
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') found.push(o as TextObject);
    Object.values(o).forEach(visit);
  };
  visit(blocks);
  return found;
};

describe('escapeMrkdwn', () => {
  it('escapes exactly &, < and >, & first (no double escaping)', () => {
    expect(escapeMrkdwn('<!channel> & <@U1|x> &amp;')).toBe('&lt;!channel&gt; &amp; &lt;@U1|x&gt; &amp;amp;');
    expect(escapeMrkdwn('payments 2026.48.1 *bold* "q"')).toBe('payments 2026.48.1 *bold* "q"');
  });
});

describe('transitionMessage', () => {
  const hostile = buildWorkItem('cancel', { name: '<!channel> 1', product: 'pay&<https://evil.example|click>' }, '<@U0ADMIN>');
  hostile.transition.reason = 'see <!here> & <#C123>';
  const message = transitionMessage(hostile);

  it('escapes every user-controlled value in the top-level text', () => {
    expect(message.text).toBe(
      'pay&amp;&lt;https://evil.example|click&gt; &lt;!channel&gt; 1: Draft → Cancelled (Cancel by &lt;@U0ADMIN&gt;)',
    );
  });

  it('leaves no control sequence of the patch, actor or reason in text or mrkdwn blocks', () => {
    expect(slackControlSequences(message)).toEqual([]);
    const mrkdwn = textObjects(message.blocks)
      .filter((t) => t.type === 'mrkdwn')
      .map((t) => t.text)
      .join('\n');
    expect(mrkdwn).toContain('&lt;!channel&gt; 1');
    expect(mrkdwn).toContain('&lt;@U0ADMIN&gt;');
    expect(mrkdwn).toContain('see &lt;!here&gt; &amp; &lt;#C123&gt;');
    expect(mrkdwn).not.toContain('&amp;lt;');
  });

  it('puts the raw title into the plain_text header (Slack shows plain_text literally)', () => {
    const plain = textObjects(message.blocks).filter((t) => t.type === 'plain_text');
    expect(plain).toEqual([{ type: 'plain_text', text: 'pay&<https://evil.example|click> <!channel> 1', emoji: false }]);
  });

  it('keeps an ordinary post readable and its header within 150 characters', () => {
    const plainWork = buildWorkItem('startDeployment', { name: '2026.48.1', product: 'payments' }, 'carol');
    expect(transitionMessage(plainWork).text).toBe('payments 2026.48.1: Active → In deployment (Start deployment by carol)');
    const long = transitionMessage(buildWorkItem('close', { name: 'x'.repeat(100), product: 'y'.repeat(100) }));
    const header = textObjects(long.blocks).find((t) => t.type === 'plain_text')!;
    expect([...header.text]).toHaveLength(150);
  });
});
