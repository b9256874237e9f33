import { packageConfig } from '../../tsup.config.ts';

export default packageConfig({ index: 'src/index.ts', testing: 'src/testing.ts' });
