import { callApi } from '../../../bin/cli/client';
import { UsageError } from '../../../bin/cli/common';
import { startLoopback } from '../../../testing/loopback';

describe('the CLI against an --api URL that is not the API', () => {
  it('says so (exit 2, a UsageError) when the answer is not JSON, instead of a JSON parse stack trace', async () => {
    const page = await startLoopback();
    page.on('/runs', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a web page</html>');
    });
    try {
      const call = callApi({ base: page.url(''), token: 't' }, 'GET', '/runs');
      await expect(call).rejects.toThrow(UsageError);
      await expect(callApi({ base: page.url(''), token: 't' }, 'GET', '/runs')).rejects.toThrow(
        /GET \/runs: .* answered HTTP 200 with a body that is not JSON \(<html>a web page<\/html>…\): is --api the stack's ApiUrl\?/,
      );
    } finally {
      await page.close();
    }
  });
});
