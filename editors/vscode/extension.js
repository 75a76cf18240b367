// Xueji for VS Code: the client side of `xueji lsp` (plain JavaScript, no build step).
//
// It starts `<xueji.command> lsp --lang <zh|en>` over stdio for the YAML files of a policy set and
// restarts it when the settings or the set of policy folders change. All language knowledge lives in
// the server (the engine's own loader, parser and checker); the highlighting is the TextMate grammar
// in syntaxes/.
'use strict';

const path = require('path');
const vscode = require('vscode');
const { LanguageClient, TransportKind, State } = require('vscode-languageclient/node');

const CLIENT_ID = 'xueji'; // also the prefix of the `xueji.trace.server` setting the client reads
const MANIFEST = 'xueji.yaml';
const IGNORED = '**/{node_modules,.git,.venv,venv,.ci,.tox,build,dist}/**';

let client;
let output;
let restarting = Promise.resolve();

/** `xueji.lang` resolved: `auto` follows VS Code's display language (zh-cn, zh-tw → zh). */
function resolveLang(setting) {
  if (setting === 'zh' || setting === 'en') return setting;
  return vscode.env.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** `xueji.command` as [program, ...args]; `${workspaceFolder}` and relative paths resolved. */
function resolveCommand(setting, folder) {
  let parts = Array.isArray(setting) ? setting.map(String) : [String(setting || 'xueji')];
  parts = parts.filter((p) => p.length > 0);
  if (parts.length === 0) parts = ['xueji'];
  if (folder) {
    parts = parts.map((p) => p.split('${workspaceFolder}').join(folder));
    const program = parts[0];
    // `.venv/bin/xueji` is relative to the workspace; a bare name (`xueji`, `python`) is looked up on PATH
    if (!path.isAbsolute(program) && /[\\/]/.test(program)) parts[0] = path.join(folder, program);
  }
  return parts;
}

/** A glob special character in a folder name would change the pattern's meaning. */
function globEscape(s) {
  return s.replace(/[{}*?]/g, (c) => `[${c}]`);
}

/**
 * Which documents the server sees: YAML files on disk (scheme `file`: the server reads the rest of the
 * policy set, schema.yaml and xueji.yaml, from disk) inside a folder that holds a `xueji.yaml`,
 * found once at start (and again when a manifest is created or deleted), plus any `policies/` folder,
 * the conventional place, so that a file opened before the search ends is served too. The patterns
 * are workspace-relative (`**∕examples/revision-2025/**∕*.yaml`), which works alike on every OS; other
 * YAML files (CI workflows, records, other tools' configuration) are left alone.
 */
async function documentSelector() {
  const dirs = new Set(['policies']);
  const manifests = await vscode.workspace.findFiles(`**/${MANIFEST}`, IGNORED, 200);
  for (const uri of manifests) {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) continue;
    const rel = path.posix.dirname(vscode.workspace.asRelativePath(uri, false).split(path.sep).join('/'));
    dirs.add(rel === '.' ? path.basename(folder.uri.fsPath) : rel);
  }
  return [...dirs].sort().map((d) => ({
    scheme: 'file',
    language: 'yaml',
    pattern: `**/${globEscape(d)}/**/*.yaml`,
  }));
}

async function startClient(context) {
  const config = vscode.workspace.getConfiguration('xueji');
  const lang = resolveLang(config.get('lang', 'auto'));
  const folders = vscode.workspace.workspaceFolders || [];
  const cwd = folders.length > 0 ? folders[0].uri.fsPath : undefined;
  const [program, ...args] = resolveCommand(config.get('command', 'xueji'), cwd);
  const selector = await documentSelector();

  const run = {
    command: program,
    args: [...args, 'lsp', '--lang', lang],
    transport: TransportKind.stdio,
    options: { cwd, env: { ...process.env, PYTHONUTF8: '1', PYTHONUNBUFFERED: '1' } },
  };
  output.appendLine(`[client] starting: ${[run.command, ...run.args].join(' ')}${cwd ? ` (in ${cwd})` : ''}`);
  output.appendLine(`[client] serving: ${selector.map((f) => f.pattern).join(', ')}`);

  client = new LanguageClient(
    CLIENT_ID,
    'Xueji',
    { run, debug: run },
    {
      documentSelector: selector,
      initializationOptions: { lang },
      outputChannel: output,
      traceOutputChannel: output,
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.yaml') },
    },
  );
  try {
    await client.start();
  } catch (err) {
    const detail = err && err.message ? err.message : String(err);
    output.appendLine(`[client] could not start ${program}: ${detail}`);
    const choice = await vscode.window.showErrorMessage(
      `Xueji: could not start \`${program} lsp\` (${detail}). Install it with pip install 'xueji[lsp]' ` +
        'or point the setting xueji.command at it.',
      'Open settings',
      'Show output',
    );
    if (choice === 'Open settings') vscode.commands.executeCommand('workbench.action.openSettings', 'xueji.command');
    if (choice === 'Show output') output.show(true);
  }
}

async function stopClient() {
  const c = client;
  client = undefined;
  if (c && c.state !== State.Stopped) {
    try {
      await c.stop(2000);
    } catch (err) {
      output.appendLine(`[client] stop: ${err && err.message ? err.message : err}`);
    }
  }
}

/** Restarts are serialised: a burst of setting or manifest changes gives one server at the end. */
function restart(context) {
  restarting = restarting.then(async () => {
    await stopClient();
    await startClient(context);
  });
  return restarting;
}

async function activate(context) {
  output = vscode.window.createOutputChannel('Xueji');
  context.subscriptions.push(output, { dispose: () => stopClient() });
  context.subscriptions.push(
    vscode.commands.registerCommand('xueji.restartServer', () => {
      output.appendLine('[client] restart requested');
      return restart(context);
    }),
    vscode.commands.registerCommand('xueji.showOutput', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('xueji.command') || e.affectsConfiguration('xueji.lang')) restart(context);
    }),
  );
  const manifests = vscode.workspace.createFileSystemWatcher(`**/${MANIFEST}`, false, true, false);
  manifests.onDidCreate(() => restart(context));
  manifests.onDidDelete(() => restart(context));
  context.subscriptions.push(manifests);
  restarting = startClient(context);
  await restarting;
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate, resolveLang, resolveCommand, globEscape };
