// jest globalSetup for `npm run test:e2e:pg`: names this run, so that its teardown drops only
// the databases this run made (two runs against one server must not drop each other's).
export default async function globalSetup() {
  process.env.NTA_TEST_RUN = Date.now().toString(36);
}
