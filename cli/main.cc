// vigil: the operator's and content author's tool.
//   vigil content build <file-or-dir>... -o <bundle>
//   vigil content verify|inspect <bundle>
//   vigil content test --bundle <bundle> <cases.jsonl>...
//   vigil replay --bundle <bundle> [--stats] <events.jsonl | ->
//   vigil status|recover ...   (cli/store_commands.h)
//   vigil keygen|trust|sign|manifest ...   (cli/update_commands.h)
#include <cstdio>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/store_commands.h"
#include "cli/update_commands.h"

int main(int argc, char** argv) {
  using namespace vigil::cli;
  CLI::App app{"vigil: compile, verify and replay detection content"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vigil 0.1.0");

  auto* content = app.add_subcommand("content", "Build, verify, inspect and test content bundles");
  content->require_subcommand(1);

  BuildArgs build;
  auto* build_cmd = content->add_subcommand("build", "Compile Sigma rules into a verified bundle");
  build_cmd->add_option("inputs", build.inputs, "Rule files and directories (walked for *.yml, *.yaml)")
      ->required();
  build_cmd->add_option("-o,--output", build.output, "Bundle to write")->required();
  build_cmd->add_flag("--strict", build.strict, "Fail (write nothing) if any rule is refused");
  build_cmd->add_flag("--json", build.json, "Print diagnostics as JSON on stdout");
  build_cmd->add_option("--content-version", build.content_version, "Content version (default: now, unix seconds)");
  build_cmd->add_option("--expires-in-days", build.expires_in_days, "Expiry from now in days (default: never)");
  build_cmd->add_option("--channel", build.channel, "Release channel recorded in the bundle");

  std::string verify_path, verify_trust_root;
  auto* verify_cmd = content->add_subcommand("verify", "Check a bundle: exit 0 if valid, 1 with a reason if not");
  verify_cmd->add_option("bundle", verify_path)->required();
  verify_cmd->add_option("--trust-root", verify_trust_root, "Also require valid signatures from this trust root");

  InspectArgs inspect;
  auto* inspect_cmd = content->add_subcommand("inspect", "Show a bundle's header and rules");
  inspect_cmd->add_option("bundle", inspect.bundle)->required();
  inspect_cmd->add_flag("--json", inspect.json, "JSON output");

  TestArgs test;
  auto* test_cmd = content->add_subcommand("test", "Run rule test cases (expected matches) against a bundle");
  test_cmd->add_option("--bundle", test.bundle)->required();
  test_cmd->add_option("cases", test.cases, "JSONL files of {rule_id, expect, event}")->required();

  ReplayArgs replay;
  auto* replay_cmd = app.add_subcommand("replay", "Evaluate JSONL events against a bundle; alerts to stdout");
  replay_cmd->add_option("--bundle", replay.bundle)->required();
  replay_cmd->add_flag("--stats", replay.stats, "Print counts and events/s to stderr");
  replay_cmd->add_option("input", replay.input, "Events file, or - for stdin");

  std::string keygen_out;
  auto* keygen_cmd = app.add_subcommand("keygen", "Make an ed25519 signing key: PREFIX.key (mode 0600) and PREFIX.pub");
  keygen_cmd->add_option("--out", keygen_out, "File name prefix")->required();

  TrustArgs trust;
  auto* trust_cmd = app.add_subcommand("trust", "Write a trust root: the keys hosts accept and how many must sign");
  trust_cmd->add_option("--threshold", trust.threshold, "Signatures required (k of n)")->required();
  trust_cmd->add_option("public_keys", trust.public_keys, ".pub files")->required();
  trust_cmd->add_option("--out", trust.out, "File to write (default: stdout)");

  SignArgs sign;
  auto* sign_cmd = app.add_subcommand("sign", "Sign a bundle (adds to its signatures; in place unless --out)");
  sign_cmd->add_option("--key", sign.keys, "Secret key file (repeat for several)")
      ->required()
      ->allow_extra_args(false);
  sign_cmd->add_option("bundle", sign.bundle)->required();
  sign_cmd->add_option("--out", sign.out, "Write the signed bundle here instead");

  ManifestArgs manifest;
  auto* manifest_cmd = app.add_subcommand("manifest", "Write a signed manifest announcing a bundle");
  manifest_cmd->add_option("--bundle", manifest.bundle, "The signed bundle")->required();
  manifest_cmd->add_option("--url", manifest.url, "Where hosts fetch it (absolute, or relative to the manifest)")
      ->required();
  manifest_cmd->add_option("--expires-in", manifest.expires_in, "Manifest lifetime, e.g. 7d, 12h")->required();
  manifest_cmd->add_option("--key", manifest.keys, "Secret key file (repeat for several)")
      ->required()
      ->allow_extra_args(false);
  manifest_cmd->add_option("--trust-root", manifest.trust_root, "Also check the bundle's signatures against this");
  manifest_cmd->add_option("--out", manifest.out, "Manifest file to write")->required();

  StoreCommands store_commands = AddStoreCommands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (*build_cmd) return RunContentBuild(build);
  if (*verify_cmd) {
    return verify_trust_root.empty() ? RunContentVerify(verify_path)
                                     : RunContentVerifySigned(verify_path, verify_trust_root);
  }
  if (*inspect_cmd) return RunContentInspect(inspect);
  if (*test_cmd) return RunContentTest(test);
  if (*replay_cmd) return RunReplay(replay);
  if (*keygen_cmd) return RunKeygen(keygen_out);
  if (*trust_cmd) return RunTrust(trust);
  if (*sign_cmd) return RunSign(sign);
  if (*manifest_cmd) return RunManifest(manifest);
  if (std::optional<int> code = store_commands.Run()) return *code;
  std::fprintf(stderr, "vigil: no command given\n");
  return 2;
}
