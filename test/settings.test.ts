/**
 * Process settings (src/settings.ts): flags over environment variables over
 * defaults, every bad value reported at once, secrets never echoed.
 */
import { expect } from 'chai';
import { loadSettings } from '../src/settings.js';

describe('settings: flags, environment, defaults', () => {
  it('defaults when nothing is set', () => {
    expect(loadSettings([], {})).to.deep.equal({
      config: '',
      admin_endpoint: '127.0.0.1:8888',
      state_dir: './data',
      log_level: 'info',
      shutdown_timeout: 10_000,
      admin_tls_cert_file: '',
      admin_tls_key_file: '',
      admin_tls_client_ca_file: '',
      admin_token: '',
      admin_console: 'on',
      admin_console_allow_config_changes: 'false',
    });
  });

  it('an environment variable over the default, a flag (either spelling) over both', () => {
    const env = { METRICPORT_LOG_LEVEL: 'warn', METRICPORT_STATE_DIR: '/var/lib/mp', METRICPORT_SHUTDOWN_TIMEOUT: '30s' };
    const s = loadSettings(['--log-level', 'debug', '--admin-endpoint=0.0.0.0:9999'], env);
    expect(s.log_level).to.equal('debug');
    expect(s.admin_endpoint).to.equal('0.0.0.0:9999');
    expect(s.state_dir).to.equal('/var/lib/mp');
    expect(s.shutdown_timeout).to.equal(30_000);
  });

  it('a duration may be a bare number of seconds; an empty variable is an empty value', () => {
    expect(loadSettings(['--shutdown-timeout', '5'], {}).shutdown_timeout).to.equal(5000);
    expect(loadSettings([], { METRICPORT_CONFIG: '' }).config).to.equal('');
  });

  it('every bad value is reported at once, with the setting and the value; a secret is never echoed', () => {
    expect(() => loadSettings(['--admin-endpoint', 'nohost', '--shutdown-timeout', 'soon'], { METRICPORT_LOG_LEVEL: 'loud' })).to.throw(
      /^invalid settings: admin_endpoint: expected host:port.*: value was "nohost"; log_level: must be one of the possible values: .*"info".*: value was "loud"; shutdown_timeout: expected a duration.*: value was "soon"$/,
    );
    expect(() => loadSettings(['--bogus', 'x'], {})).to.throw(/unknown flag "--bogus"/);
    expect(() => loadSettings(['--config'], {})).to.throw(/flag --config needs a value/);
  });

  it('the admin token is taken as given and never appears in an error', () => {
    expect(loadSettings([], { METRICPORT_ADMIN_TOKEN: 'tok-secret-123' }).admin_token).to.equal('tok-secret-123');
    try {
      loadSettings(['--log-level', 'nope'], { METRICPORT_ADMIN_TOKEN: 'tok-secret-123' });
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.not.contain('tok-secret-123');
    }
  });
});
