import type { ComponentChildren } from "preact"
import { useEffect, useRef } from "preact/hooks"

const focusable = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"

/**
 * A side drawer that holds the focus while open: its heading takes it, Tab and Shift+Tab cycle
 * inside it, Escape closes it, and the focus goes back to what opened it.
 */
export function Dialog({ title, onClose, children, name }: { readonly title: string; readonly onClose: () => void; readonly children: ComponentChildren; readonly name: string }) {
  const panel = useRef<HTMLDivElement>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    heading.current?.focus()
    return () => {
      if (opener !== null && opener.isConnected) opener.focus()
    }
  }, [])

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      event.preventDefault()
      onClose()
      return
    }
    if (event.key !== "Tab" || panel.current === null) return
    const items = Array.from(panel.current.querySelectorAll<HTMLElement>(focusable))
    if (items.length === 0) return
    const first = items[0]
    const last = items[items.length - 1]
    if (event.shiftKey && (document.activeElement === first || document.activeElement === heading.current)) {
      event.preventDefault()
      last.focus()
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault()
      first.focus()
    }
  }

  return (
    <div class="overlay">
      <div class="backdrop" onClick={onClose} />
      <div ref={panel} class={`drawer ${name}`} role="dialog" aria-modal="true" aria-labelledby={`${name}-title`} onKeyDown={onKeyDown}>
        <header>
          <h2 id={`${name}-title`} ref={heading} tabIndex={-1}>{title}</h2>
          <button type="button" class="close" onClick={onClose} aria-label="Close">×</button>
        </header>
        <div class="drawer-body">{children}</div>
      </div>
    </div>
  )
}
