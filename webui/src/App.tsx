import { lazy, Suspense, useState } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { Loading } from './components/states';
import { AdminConsole } from './pages/Admin';
import { DatasetPage } from './pages/Dataset';
import { DomainsPage } from './pages/Domains';
import { GlossaryPage } from './pages/Glossary';
import { HealthPage } from './pages/Health';
import { HomePage } from './pages/Home';
import { SearchPage } from './pages/Search';
import { SettingsPage } from './pages/Settings';
import { SignInPage } from './pages/SignIn';
import { hasRole, useSession } from './session';

// The graph (Cytoscape.js) is the heaviest part: loaded on the lineage page only.
const LineagePage = lazy(() => import('./pages/Lineage'));

function Shell({ children, links }: { children: React.ReactNode; links: { to: string; label: string }[] }) {
  const { session, signOut } = useSession();
  const [menu, setMenu] = useState(false);
  const who =
    session.kind === 'tenant'
      ? `${session.me.user?.email ?? session.me.actor} · ${session.me.tenant.name} (${session.me.role})`
      : 'platform operator';
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand">
          MetaFuse
        </NavLink>
        <button type="button" className="menu-toggle" aria-expanded={menu} onClick={() => setMenu(!menu)}>
          Menu
        </button>
        <nav aria-label="Main" className={menu ? 'open' : undefined} onClick={() => setMenu(false)}>
          {links.map((l) => (
            <NavLink key={l.to} to={l.to} end={l.to === '/'}>
              {l.label}
            </NavLink>
          ))}
        </nav>
        <span className="who" title={who}>
          {who}
        </span>
        <button type="button" className="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <div className="state empty">
      <h1>Page not found</h1>
      <NavLink to="/">Back home</NavLink>
    </div>
  );
}

export function App() {
  const { session } = useSession();
  const location = useLocation();
  if (session.kind === 'loading') return <Loading label="Signing in…" />;
  if (session.kind === 'signed_out') {
    return location.pathname === '/signin' ? <SignInPage /> : <Navigate to="/signin" replace state={{ from: location }} />;
  }
  if (session.kind === 'platform') {
    return (
      <Shell
        links={[
          { to: '/admin/tenants', label: 'Tenants' },
          { to: '/admin/plans', label: 'Plans' },
          { to: '/admin/invoices', label: 'Invoices' },
        ]}
      >
        <Routes>
          <Route path="/admin/*" element={<AdminConsole />} />
          <Route path="*" element={<Navigate to="/admin/tenants" replace />} />
        </Routes>
      </Shell>
    );
  }
  const links = [
    { to: '/', label: 'Home' },
    { to: '/search', label: 'Search' },
    { to: '/glossary', label: 'Glossary' },
    { to: '/domains', label: 'Domains' },
    { to: '/health', label: 'Health' },
    { to: '/settings', label: hasRole(session, 'admin') ? 'Settings' : 'API keys' },
  ];
  return (
    <Shell links={links}>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<HomePage />} />
          <Route path="/signin" element={<Navigate to="/" replace />} />
          <Route path="/search" element={<SearchPage />} />
          <Route path="/datasets/:namespace/:name" element={<DatasetPage />} />
          <Route path="/lineage" element={<LineagePage />} />
          <Route path="/glossary" element={<GlossaryPage />} />
          <Route path="/domains" element={<DomainsPage />} />
          <Route path="/health" element={<HealthPage />} />
          <Route path="/settings/*" element={<SettingsPage />} />
          <Route path="/admin/*" element={<div className="state error" role="alert">The admin console needs a platform role.</div>} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </Shell>
  );
}
