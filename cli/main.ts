/**
 * The `terra` command (commander). Thin: parses arguments and calls the
 * compiler, the VMs and the components. Exit codes: 0 success, 1 errors in
 * the input (diagnostics, a rejected capsule, a bad trace), 2 usage errors.
 */
import { Command, CommanderError } from "commander";
import { registerBasics } from "./basics";
import { registerBench } from "./bench";
import { registerDeploy } from "./deploy";
import { registerLoad } from "./load";
import { registerMote } from "./mote";
import { registerSim } from "./sim";
import { InputError, UsageError } from "./util";

export const program = new Command();

program
  .name("terra")
  .description("Céu-T compiler, verifier and VMs for sensor motes (Terra-TS)")
  .version("0.1.0")
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) })
  .exitOverride();

registerBasics(program);
registerBench(program);
registerDeploy(program);
registerLoad(program);
registerMote(program);
registerSim(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof UsageError) {
    process.stderr.write(`terra: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof InputError) {
    process.stderr.write(`terra: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
