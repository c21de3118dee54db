import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// Shared CI machines can be slow: give findBy*/waitFor more than the default second.
configure({ asyncUtilTimeout: 5000 });

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});
