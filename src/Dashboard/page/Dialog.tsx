import type { ComponentChildren } from "preact"
import { useEffect, useRef } from "preact/hooks"

const focusable = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"

/**
 * A side drawer that holds the focus while open: its heading takes it, Tab and Shift+Tab cycle
 * inside it, Escape closes it, and the focus goes back to what opened it (or to `returnFocus`).
 */
export function Dialog({ title, onClose, children, name, returnFocus }: {
  readonly title: string
  readonly onClose: () => void
  readonly children: ComponentChildren
  readonly name: string
  /** Where the focus goes on closing when it is not the opener (which may have moved meanwhile). */
  readonly returnFocus?: () => HTMLElement | null
}) {
  const panel = useRef<HTMLDivElement>(null)
  const heading = useRef<HTMLHeadingElement>(null)
  const close = useRef(onClose)
  close.current = onClose
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    heading.current?.focus()
    // On the document: the focus may have left the drawer (an element it held went away).
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault()
        close.current()
        return
      }
      if (event.key !== "Tab" || panel.current === null) return
      const items = Array.from(panel.current.querySelectorAll<HTMLElement>(focusable))
      if (items.length === 0) return
      const first = items[0]
      const last = items[items.length - 1]
      const inside = panel.current.contains(document.activeElement)
      if (event.shiftKey && (!inside || document.activeElement === first || document.activeElement === heading.current)) {
        event.preventDefault()
        last.focus()
      } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
        event.preventDefault()
        first.focus()
      }
    }
    document.addEventListener("keydown", onKeyDown)
    return () => {
      document.removeEventListener("keydown", onKeyDown)
      const target = returnFocus?.() ?? opener
      if (target !== null && target.isConnected) target.focus()
    }
  }, [])

  return (
    <div class="overlay">
      <div class="backdrop" onClick={onClose} />
      <div ref={panel} class={`drawer ${name}`} role="dialog" aria-modal="true" aria-labelledby={`${name}-title`}>
        <header>
          <h2 id={`${name}-title`} ref={heading} tabIndex={-1}>{title}</h2>
          <button type="button" class="close" onClick={onClose} aria-label="Close">×</button>
        </header>
        <div class="drawer-body">{children}</div>
      </div>
    </div>
  )
}
