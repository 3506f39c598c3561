// listr2 defaults for the cluster pipelines: progress on stderr (stdout stays for results), a live
// tree on a terminal and plain timestamped lines otherwise (CI, logs, tests), every line redacted.
import { Listr, ListrLogger, ProcessOutput, type ListrTask } from 'listr2'
import { hasTerminal } from '../prompts.ts'
import { redact } from '../secrets.ts'
import type { VmJob } from './engine.ts'

const redacting = (stream: NodeJS.WriteStream): NodeJS.WriteStream =>
  new Proxy(stream, {
    get(target, prop, receiver) {
      if (prop === 'write') return (chunk: unknown, ...rest: unknown[]) => (target.write as (...a: unknown[]) => boolean)(typeof chunk === 'string' ? redact(chunk) : chunk, ...rest)
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })

export function runPipeline<Ctx extends object>(tasks: ListrTask<Ctx>[], ctx: Ctx): Promise<Ctx> {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(redacting(process.stderr), redacting(process.stderr)) })
  const list = new Listr<Ctx, 'default', 'verbose'>(tasks, {
    ctx,
    renderer: 'default',
    fallbackRenderer: 'verbose',
    fallbackRendererCondition: () => !hasTerminal() || process.env.PM_PLAIN_OUTPUT === '1',
    rendererOptions: { logger, collapseSubtasks: false },
    fallbackRendererOptions: { logger, logTitleChange: true },
    exitOnError: true,
    registerSignalListeners: true,
  })
  return list.run()
}

/** A listr task running VM jobs concurrently, one line each; failures are collected in ctx. */
export function jobsTask<Ctx extends { failures: { vm: string; error: unknown }[] }>(title: string, jobs: (ctx: Ctx) => VmJob[]): ListrTask<Ctx> {
  return {
    title,
    task: (ctx, task) => {
      const list = jobs(ctx)
      if (!list.length) {
        task.skip(`${title}: nothing to do`)
        return
      }
      return task.newListr(
        list.map((job) => ({
          title: job.name,
          task: async (_, sub) => {
            try {
              await job.run((message) => (sub.output = message))
            } catch (error) {
              ctx.failures.push({ vm: job.name, error })
              throw error
            }
          },
        })),
        { concurrent: true, exitOnError: false },
      )
    },
  }
}
