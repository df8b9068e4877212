/**
 * The sign-in form: the admin key goes in the body of a POST (never in a URL) and comes back as
 * a session cookie. `error` explains a refused attempt.
 */
export function SignInPage(props: { error: string | null }) {
  return (
    <form class="sign-in" method="post" action="/dashboard/sign-in">
      <h1>Sign in</h1>
      <p class="muted">meterline's internal billing view. Admins only.</p>
      {props.error === null ? null : (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {/* Lets password managers file the key under a name; the server ignores it. */}
      <input type="text" name="username" value="admin" autocomplete="username" hidden />
      <label for="key">Admin key</label>
      <input
        id="key"
        name="key"
        type="password"
        autocomplete="current-password"
        required
        autofocus
        spellcheck={false}
      />
      <button type="submit">Sign in</button>
    </form>
  );
}

/** What a page shows when what it names does not exist. */
export function NotFoundPage(props: { what: string }) {
  return (
    <>
      <h1>Not found</h1>
      <p class="error" role="alert">
        {props.what}
      </p>
      <p>
        <a href="/dashboard">Back to the overview</a>
      </p>
    </>
  );
}
