package core

// RedirectToDirectory answers 301 to the URL path with '/' appended
// (lighttpd's http_response_redirect_to_directory), for a module that knows
// the path names a directory without looking (mod_userdir's "/~user").
func (rc *Request) RedirectToDirectory() Result { return rc.redirectDir() }
