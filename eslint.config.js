// ESLint flat config: typescript-eslint's recommended rules over the sources, tests, scripts and
// benches; Prettier owns formatting, so no stylistic rules here. assembly/ is AssemblyScript (its
// decorators and v128/f32 types are not TypeScript): asc checks it when `npm run build` compiles it.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.bench/**', 'build/**', 'assembly/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  // The dashboard's ES modules run in the browser (served as they are, no bundler).
  { files: ['dashboard/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'module' } },
);
