import { describe, expect, it } from 'vitest';
import { modelDirFromStorageUri, renderLaunch, type LaunchContext } from './launch-template.js';

const ctx: LaunchContext = {
  port: 41000,
  modelName: 'iris',
  modelDir: '/models/iris',
  storageUri: 'file:///models/iris',
  sluiceRoot: '/opt/sluice',
  node: '/usr/bin/node',
  python: '/venv/bin/python',
};

describe('modelDirFromStorageUri', () => {
  it('turns file:// URIs and plain paths into absolute directories', () => {
    expect(modelDirFromStorageUri('file:///models/iris', '/work')).toBe('/models/iris');
    expect(modelDirFromStorageUri('file://./examples/models/iris', '/work')).toBe('/work/examples/models/iris');
    expect(modelDirFromStorageUri('file://examples/models/iris', '/work')).toBe('/work/examples/models/iris');
    expect(modelDirFromStorageUri('examples/models/iris/', '/work')).toBe('/work/examples/models/iris');
    expect(modelDirFromStorageUri('/abs/dir', '/work')).toBe('/abs/dir');
    expect(modelDirFromStorageUri(null, '/work')).toBe('');
  });

  it('refuses remote schemes with a message the user can act on', () => {
    expect(() => modelDirFromStorageUri('gs://bucket/model')).toThrow(
      'storageUri scheme gs:// is not supported by the local backend; use file:// or a path',
    );
    expect(() => modelDirFromStorageUri('s3://bucket/model')).toThrow(/scheme s3:\/\//);
    expect(() => modelDirFromStorageUri('hf://org/model')).toThrow(/scheme hf:\/\//);
  });
});

describe('renderLaunch', () => {
  it('fills every template and builds the environment in precedence order', () => {
    const out = renderLaunch(
      {
        command: '{{python}}',
        args: ['-m', 'server', '--port={{port}}', '--model_name', '{{ modelName }}', '--model_dir', '{{modelDir}}', '{{storageUri}}', '{{sluiceRoot}}/x', '{{node}}'],
        env: { A: 'recipe', B: 'recipe', DIR: '{{modelDir}}' },
        readinessPath: '/v1/models/{{modelName}}',
        startupTimeoutSeconds: 60,
      },
      { B: 'container', PORT: '1' },
      ctx,
      { PATH: '/bin', HOME: '/root', SECRET_TOKEN: 'x' },
    );
    expect(out.command).toBe('/venv/bin/python');
    expect(out.args).toEqual(['-m', 'server', '--port=41000', '--model_name', 'iris', '--model_dir', '/models/iris', 'file:///models/iris', '/opt/sluice/x', '/usr/bin/node']);
    expect(out.readinessPath).toBe('/v1/models/iris');
    // Inherited subset only (no SECRET_TOKEN); container env over recipe env; PORT always the replica's.
    expect(out.env).toEqual({ PATH: '/bin', HOME: '/root', A: 'recipe', B: 'container', DIR: '/models/iris', PORT: '41000' });
  });

  it('names an unknown template and the known ones', () => {
    expect(() =>
      renderLaunch({ command: '{{nod}}', args: [], env: {}, readinessPath: '/', startupTimeoutSeconds: 1 }, {}, ctx, {}),
    ).toThrow(/unknown template \{\{nod\}\} in local launch recipe; known: \{\{port\}\}/);
  });
});
