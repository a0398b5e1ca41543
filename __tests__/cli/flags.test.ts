import { describe, expect, it } from '@jest/globals';
import { ExitCode, ExitError } from '../../src/cli/exit-codes.js';
import { numberFlag, portFlag } from '../../src/cli/flags.js';
import { describeFailure, jsonErrorObject, wantsJson } from '../../src/cli/run-cli.js';
import { HostResolutionError } from '../../src/errors.js';

describe('numeric flags', () => {
  it('name the value as typed, not NaN', () => {
    expect(() => numberFlag('rto', { what: 'a positive number of ms', above: 0 })('abc')).toThrow('--rto must be a positive number of ms, not "abc"');
    expect(() => portFlag('port')('65536')).toThrow('--port must be a port number 1-65535, not "65536"');
  });
  it('are usage errors (exit 2)', () => {
    const thrown = ((): unknown => {
      try {
        portFlag('port')('x');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(ExitError);
    expect(thrown).toMatchObject({ exitCode: ExitCode.USAGE });
  });
  it('accept good values', () => {
    expect([numberFlag('rto', { what: 'ms', above: 0 })('12.5'), portFlag('port')('3478')]).toEqual([12.5, 3478]);
  });
});

describe('--json errors', () => {
  it('are asked for by --json before any "--"', () => {
    expect([wantsJson(['classify', '--json']), wantsJson(['classify', '--json=true']), wantsJson(['lab', 'exec', 'client1', '--', 'x', '--json']), wantsJson(['classify', '--json', '--no-json'])]).toEqual([true, true, false, false]);
  });
  it('are one object with the schema, the error code and message, and the exit code', () => {
    const failure = describeFailure(new HostResolutionError('no-such-host.invalid', 'ENOTFOUND'));
    expect(JSON.parse(jsonErrorObject('natscope.classify/1', failure))).toEqual({
      schema: 'natscope.classify/1',
      error: { code: 'ERR_HOST_UNRESOLVABLE', message: 'Cannot resolve no-such-host.invalid: ENOTFOUND' },
      exitCode: ExitCode.INCONCLUSIVE,
    });
    expect(describeFailure(new ExitError(ExitCode.USAGE, 'bad')).code).toBe('ERR_USAGE');
    expect(describeFailure(new TypeError('oops'))).toMatchObject({ exitCode: ExitCode.INTERNAL, code: 'ERR_INTERNAL' });
  });
});
