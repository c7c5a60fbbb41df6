package com.flowerpipeline.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.awt.image.BufferedImage
import java.io.File
import java.lang.management.ManagementFactory

/**
 * A gallery photo on the worker thread: bounded memory whatever its size, and every failure a
 * message for the screen (Outcome.Failed), never an exception escaping to crash the app.
 */
class GalleryTest {
    private val input = InputSpec("image", DType.UINT8, listOf(1, 224, 224, 3), FloatArray(3) { 128f }, FloatArray(3) { 128f }, null)
    private val pre = Preprocessor(input, Quantization(1f / 128, 128))
    private val tensor = pre.newBuffer()
    private val classify = PhotoJob.Classify { argb, w, h, orientation ->
        pre.fill(argb, w, h, tensor, orientation)
        "classified $w x $h"
    }

    private fun temp(suffix: String) = File.createTempFile("gallery", suffix).also { it.deleteOnExit() }

    private fun failure(outcome: Outcome<*>): String = (outcome as? Outcome.Failed)?.message
        ?: throw AssertionError("expected a message, got ${outcome.javaClass.simpleName}")

    @Test
    fun sampleSizesMirrorPillowsDraftAndStayBounded() {
        // Python's rule: the largest s of 8, 4, 2, 1 with min side >= 2 * s * 224
        assertEquals(4, SampleSize.forModel(PhotoBounds(4032, 3024, jpeg = true), 224)) // 1008 x 756
        assertEquals(2, SampleSize.forModel(PhotoBounds(1600, 1200, jpeg = true), 224)) // 800 x 600: 1/4 would be 300 < 448
        assertEquals(1, SampleSize.forModel(PhotoBounds(500, 665, jpeg = true), 224)) // a real test photo: whole
        assertEquals(1, SampleSize.forModel(PhotoBounds(300, 200, jpeg = true), 224))
        assertEquals(8, SampleSize.forModel(PhotoBounds(4032, 3024, jpeg = true), 32)) // draft stops at 1/8
        assertEquals(1, SampleSize.forModel(PhotoBounds(2000, 1500, jpeg = false), 224)) // Pillow drafts JPEG only
        assertEquals(4, SampleSize.forModel(PhotoBounds(8000, 6000, jpeg = false), 224)) // 48 MP PNG: memory first
        assertEquals(16, SampleSize.forModel(PhotoBounds(32000, 24000, jpeg = true), 224)) // 768 MP
        assertEquals(2, SampleSize.forScreen(PhotoBounds(4032, 3024, jpeg = true), 2400))
        assertEquals(1, SampleSize.forScreen(PhotoBounds(1080, 2400, jpeg = true), 2400))
    }

    @Test
    fun aPhotoLargerThanTheScreenIsShownDownsampledAndClassified() {
        val file = ImageIoPhoto.writeJpeg(temp(".jpg"), 4032, 3024)
        val outcome = PhotoJob(224, 1100).run(ImageIoPhoto(file, orientation = 6), classify)
        val shown = outcome as? Outcome.Shown<BufferedImage> ?: throw AssertionError(failure(outcome))
        assertEquals("classified 1008 x 756", shown.text) // what the model read: 1/4, as the Python loader
        assertEquals(3024 / 4 to 4032 / 4, shown.photo.width to shown.photo.height) // 1/4 fits 1100, turned upright
    }

    @Test
    fun anUnreadablePhotoIsAMessage() {
        val garbage = temp(".jpg").apply { writeText("not a photo") }
        assertTrue(failure(PhotoJob(224, 1000).run(ImageIoPhoto(garbage), classify)).startsWith("Photo: cannot read it ("))
        val missing = File(garbage.parentFile, "no-such-photo.jpg")
        assertTrue(failure(PhotoJob(224, 1000).run(ImageIoPhoto(missing), classify)).startsWith("Photo: cannot read it ("))
        val cut = temp(".jpg")
        cut.writeBytes(ImageIoPhoto.writeJpeg(temp(".jpg"), 640, 480).readBytes().copyOf(300))
        assertTrue(failure(PhotoJob(224, 1000).run(ImageIoPhoto(cut), classify)).startsWith("Photo: "))
    }

    @Test
    fun aModelWhoseInputTakesOtherBytesIsAMessageAtLoad() {
        // What FlowerClassifier does at load, under the guard the app runs it in.
        val outcome = Failures.guard<Unit>("Model") { pre.checkInputBytes(224 * 224 * 3 * 4); Outcome.Shown(Unit, "") }
        assertEquals("Model: the model cannot be used: the model's input 'image' takes 602112 bytes, " +
                     "but its description ([1, 224, 224, 3], uint8) makes 150528", failure(outcome))
    }

    @Test
    fun anyOtherFailureOnTheWorkerIsAMessage() {
        val file = ImageIoPhoto.writeJpeg(temp(".jpg"), 64, 48)
        val broken = PhotoJob.Classify { _, _, _, _ -> throw IllegalStateException("interpreter closed") }
        assertEquals("Photo: IllegalStateException: interpreter closed",
                     failure(PhotoJob(224, 1000).run(ImageIoPhoto(file), broken)))
    }

    @Test
    fun a12MegapixelPhotoReachesTheTensorInUnder32MB() {
        val file = ImageIoPhoto.writeJpeg(temp(".jpg"), 4032, 3024)
        val threads = ManagementFactory.getThreadMXBean() as com.sun.management.ThreadMXBean
        val before = threads.currentThreadAllocatedBytes
        val outcome = PhotoJob(224, 2400).run(ImageIoPhoto(file), classify)
        val allocated = threads.currentThreadAllocatedBytes - before
        assertTrue(outcome is Outcome.Shown)
        assertTrue("allocated $allocated bytes", allocated <= 32L shl 20)
    }
}
