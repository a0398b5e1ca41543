import { describe, expect, it } from '@jest/globals';
import { canDrawSpinner, isCi, textWidth } from '../../src/cli/terminal.js';

describe('when a spinner is drawn', () => {
  it.each([
    [{ isTTY: true, columns: 80 }, {}, true],
    [{ isTTY: true, columns: 0 }, {}, false],
    [{ isTTY: true, columns: undefined }, {}, false],
    [{ isTTY: true, columns: 5 }, {}, false],
    [{ isTTY: false, columns: 80 }, {}, false],
    [{ isTTY: true, columns: 80 }, { CI: 'true' }, false],
    [{ isTTY: true, columns: 80 }, { CI: '1' }, false],
    [{ isTTY: true, columns: 80 }, { CI: 'false' }, true],
    [{ isTTY: true, columns: 80 }, { TERM: 'dumb' }, false],
  ])('stream %j with env %j: %s', (stream, env, expected) => {
    expect(canDrawSpinner(stream, env)).toBe(expected);
  });
  it('reads CI as most CI systems set it', () => {
    expect([isCi({ CI: 'true' }), isCi({ CI: '' }), isCi({ CI: '0' }), isCi({})]).toEqual([true, false, false, false]);
  });
});

describe('the width text is laid out in', () => {
  it.each([
    [{ isTTY: true, columns: 80 }, {}, 80],
    [{ isTTY: true, columns: 0 }, {}, 80],
    [{ isTTY: true, columns: 0 }, { COLUMNS: '100' }, 100],
    [{ isTTY: false, columns: undefined }, {}, 80],
    [{ isTTY: false, columns: undefined }, { COLUMNS: '132' }, 132],
    [{ isTTY: true, columns: 20 }, {}, 40],
    [{ isTTY: true, columns: 1000 }, {}, 200],
  ])('stream %j with env %j: %i columns', (stream, env, expected) => {
    expect(textWidth(stream, env)).toBe(expected);
  });
});
